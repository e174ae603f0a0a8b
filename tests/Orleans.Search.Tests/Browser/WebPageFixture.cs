using System.Collections.Concurrent;
using Microsoft.Playwright;
using Orleans.Search.Fakes;
using Orleans.Search.Tests.Api;

namespace Orleans.Search.Tests.Browser;

/// <summary>
/// A real gateway with API keys (alice), a fake SearXNG behind providers <c>web</c> (default) and <c>held</c> (the same
/// fake, one attempt, a two-minute timeout, so a page held by the test stays in flight), a fake OpenAI-compatible API as
/// the default LLM (it expands a research question into <see cref="SubQuery"/> and answers <see cref="Answer"/>), and
/// Debian's Chromium driven by Playwright. Event streams end every few seconds, so the page has to reconnect with <c>Last-Event-ID</c> as it goes.
/// A browser that cannot start fails every test here; nothing is skipped.
/// </summary>
public sealed class WebPageFixture : IAsyncLifetime
{
    public const string AliceKey = "key-alice-browser";
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>Results of queries containing <see cref="HostileMarker"/> carry this title and <see cref="HostileSnippet"/>.</summary>
    public const string HostileMarker = "hostile";
    public const string HostileTitle = "<img src=x onerror=alert(1)>";
    public const string HostileSnippet = "<script>alert(2)</script><b>bold?</b>";

    /// <summary>What the fake LLM expands every research question into.</summary>
    public const string SubQuery = "grain placement strategies";

    /// <summary>Markup in the answer that the page must show as text.</summary>
    public const string HostileAnswerMarkup = "<img src=x onerror=alert(3)><script>alert(4)</script>";

    /// <summary>The answer the fake LLM writes: citations [1] and [2], and markup that must stay text.</summary>
    public const string Answer = "Grains are **virtual actors** [1]. The runtime places them on demand [2]. " + HostileAnswerMarkup;

    private readonly ConcurrentDictionary<string, (int FromPage, TaskCompletionSource Release)> _holds = new();

    public GatewayHost Gateway { get; private set; } = null!;

    public FakeSearxng Searxng { get; private set; } = null!;

    public FakeOpenAi Llm { get; private set; } = null!;

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public HttpClient Alice { get; private set; } = null!;

    /// <summary>Where each step's screenshot goes: TestResults/screenshots at the repository root.</summary>
    public string ScreenshotFolder { get; } = Path.Combine(RepositoryRoot(), "TestResults", "screenshots");

    public async Task InitializeAsync()
    {
        Searxng = await FakeSearxng.StartAsync(new FakeSearxngOptions
        {
            Latency = TimeSpan.FromMilliseconds(5),
            ShapeResult = r => r.Query.Contains(HostileMarker, StringComparison.Ordinal) ? r with { Title = HostileTitle, Content = HostileSnippet } : r,
            Hold = (query, page) => _holds.TryGetValue(query, out var hold) && page >= hold.FromPage ? hold.Release.Task : Task.CompletedTask,
        });
        // JSON is asked for only by the expansion; everything else is the answer.
        Llm = await FakeOpenAi.StartAsync(new FakeOpenAiOptions
        {
            Reply = r => FakeOpenAiReply.Of(r.ResponseFormat is not null ? $$"""{"queries":["{{SubQuery}}"]}""" : Answer),
        });
        var settings = GatewaySettings.Common(Searxng);
        TestKeys.Configure(settings, 0, AliceKey, "alice");
        settings["Llm:DefaultProvider"] = "main";
        settings["Llm:Providers:main:BaseUrl"] = Llm.ApiBaseUrl.ToString();
        settings["Llm:Providers:main:Model"] = "page-model";
        settings["Llm:Prices:page-model:InputPerMillion"] = "2.5";
        settings["Llm:Prices:page-model:OutputPerMillion"] = "10";
        GatewaySettings.AddSearxng(settings, "held", Searxng, [.. GatewaySettings.Unbound, ("MaxAttempts", "1"), ("TimeoutSeconds", "120")]);
        // Streams end after 2.4 s: every test that watches a job for longer sees the page resume with Last-Event-ID.
        settings["Events:MaxStreamMinutes"] = "0.04";
        settings["Events:KeepAliveSeconds"] = "1";
        Gateway = await GatewayHost.StartAsync(settings);
        Alice = Gateway.Client(AliceKey);

        Directory.CreateDirectory(ScreenshotFolder);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        try
        {
            Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            });
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException(
                $"Chromium could not be started from {ChromiumPath}; the browser tests need Debian's chromium package (apt-get install -y chromium). {ex.Message}", ex);
        }
        // Waits below are conditions with deadlines; a loaded machine gets generous ones.
        Assertions.SetDefaultExpectTimeout(60_000);
    }

    /// <summary>Holds pages from <paramref name="fromPage"/> on of <paramref name="query"/> in flight until the hold is released (or disposed).</summary>
    public PageHold HoldPages(string query, int fromPage)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _holds[query] = (fromPage, release);
        return new PageHold(release);
    }

    /// <summary>A fresh browser context (its own sessionStorage) and page, watched for dialogs, page errors and CSP refusals.</summary>
    public async Task<BrowserSession> OpenAsync(string testName, int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            BaseURL = Gateway.BaseAddress.ToString(),
        });
        var page = await context.NewPageAsync();
        var session = new BrowserSession(context, page, ScreenshotFolder, testName);
        await page.AddInitScriptAsync(BrowserSession.ProgressRecorder);
        return session;
    }

    /// <summary>A fresh session on the page, signed in as Alice.</summary>
    public async Task<BrowserSession> OpenSignedInAsync(string testName, int width = 1280, int height = 900)
    {
        var session = await OpenAsync(testName, width, height);
        await session.Page.GotoAsync("/");
        await session.SignInAsync(AliceKey);
        return session;
    }

    public async Task DisposeAsync()
    {
        foreach (var hold in _holds.Values)
        {
            hold.Release.TrySetResult();
        }
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        Playwright?.Dispose();
        Alice?.Dispose();
        await FixtureParts.DisposeAsync(Gateway, Llm, Searxng);
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Orleans.Search.sln")))
            {
                return folder.FullName;
            }
        }
        return AppContext.BaseDirectory;
    }
}

[CollectionDefinition(Name)]
public sealed class WebPageCollection : ICollectionFixture<WebPageFixture>
{
    public const string Name = "browser: the web page";
}

/// <summary>
/// One person's browser tab: what it asked the gateway for, the dialogs, script errors and CSP refusals it met (each a
/// failure), and a screenshot per step.
/// </summary>
public sealed class BrowserSession : IAsyncDisposable
{
    /// <summary>Records every value a job's bar shows, in order, per page load (reset by a reload).</summary>
    public const string ProgressRecorder = """
        window.__progressLog = [];
        new MutationObserver((records) => {
          for (const r of records) {
            const t = r.target;
            if (t.classList && t.classList.contains('job-progress')) {
              const card = t.closest('article.job');
              window.__progressLog.push({ job: card ? card.dataset.jobId : null, value: Number(t.getAttribute('aria-valuenow')) });
            }
          }
        }).observe(document, { subtree: true, attributes: true, attributeFilter: ['aria-valuenow'] });
        """;

    private readonly string _folder;
    private readonly string _testName;
    private int _step;

    public BrowserSession(IBrowserContext context, IPage page, string folder, string testName)
    {
        Context = context;
        Page = page;
        _folder = folder;
        _testName = testName;
        page.Dialog += (_, dialog) =>
        {
            Problems.Add($"a dialog opened: {dialog.Type} '{dialog.Message}'");
            _ = dialog.DismissAsync();
        };
        page.PageError += (_, error) => Problems.Add($"a script error: {error}");
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
            {
                Problems.Add($"a CSP refusal: {message.Text}");
            }
        };
        page.Request += (_, request) => Requests.Enqueue(request);
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    public ConcurrentBag<string> Problems { get; } = [];

    public ConcurrentQueue<Microsoft.Playwright.IRequest> Requests { get; } = new();

    /// <summary>The whole page, or with <paramref name="fullPage"/> false only what the window shows.</summary>
    public async Task ScreenshotAsync(string step, bool fullPage = true)
    {
        var path = Path.Combine(_folder, $"{_testName}-{++_step:00}-{step}.png");
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = fullPage });
    }

    /// <summary>The values the bar of <paramref name="jobId"/> showed since this page was loaded, in order.</summary>
    public async Task<IReadOnlyList<int>> ProgressSeenAsync(string jobId)
    {
        var values = await Page.EvaluateAsync<int[]>("job => window.__progressLog.filter(e => e.job === job).map(e => e.value)", jobId);
        return values;
    }

    public async Task SignInAsync(string key)
    {
        await Page.GetByLabel("API key").FillAsync(key);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(Page.GetByRole(AriaRole.Heading, new() { Name = "New search" })).ToBeVisibleAsync();
    }

    /// <summary>Fills the form and submits it; returns the new job's card and id.</summary>
    public async Task<(ILocator Card, string JobId)> SearchAsync(string query, int pages = 1, string? provider = null)
    {
        await Page.GetByRole(AriaRole.Textbox, new() { Name = "Query" }).FillAsync(query);
        await Page.GetByLabel("Pages per query").FillAsync(pages.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (provider is not null)
        {
            await Page.GetByRole(AriaRole.Combobox, new() { Name = "Provider", Exact = true }).SelectOptionAsync(provider);
        }
        var before = await Page.Locator("article.job").CountAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Search", Exact = true }).ClickAsync();
        await Assertions.Expect(Page.Locator("article.job")).ToHaveCountAsync(before + 1);
        var card = Page.Locator("article.job").First;
        // The card's title; a fast job may already show its answer's and results' headings below it, and a research
        // job's title adds how many sub-queries it searched too.
        await Assertions.Expect(card.Locator("h3[id$='-title']")).ToContainTextAsync(query);
        var jobId = await card.GetAttributeAsync("data-job-id") ?? throw new InvalidOperationException("The job card has no job id.");
        // By id: a later job's card goes on top.
        return (Page.Locator($"article.job[data-job-id='{jobId}']"), jobId);
    }

    public async ValueTask DisposeAsync() => await Context.DisposeAsync();
}

/// <summary>Pages held in flight by the fake provider; released on <see cref="Release"/> or at the end of the test.</summary>
public sealed class PageHold(TaskCompletionSource release) : IDisposable
{
    public void Release() => release.TrySetResult();

    public void Dispose() => Release();
}
