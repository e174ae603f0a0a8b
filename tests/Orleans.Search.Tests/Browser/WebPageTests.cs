using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Orleans.Search.Fakes;
using static Microsoft.Playwright.Assertions;

namespace Orleans.Search.Tests.Browser;

/// <summary>
/// A person at the web page, in a real Chromium against a real gateway with keys: signing in, searching, watching the
/// bars, reading results, cancelling, reloading mid-job, a 360 px screen and a hostile result title. Each step leaves a
/// screenshot in TestResults/screenshots.
/// </summary>
[Collection(WebPageCollection.Name)]
public sealed class WebPageTests(WebPageFixture fixture)
{
    [Fact]
    public async Task A_person_signs_in_searches_watches_the_bar_reach_100_and_reads_the_results()
    {
        await using var tab = await fixture.OpenAsync("search");
        var page = tab.Page;
        await page.GotoAsync("/");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
        await tab.ScreenshotAsync("sign-in");

        await page.GetByLabel("API key").FillAsync("not-a-key");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "not accepted" })).ToBeVisibleAsync();

        var beforeSignIn = tab.Requests.Count;
        await tab.SignInAsync(WebPageFixture.AliceKey);
        await tab.ScreenshotAsync("signed-in");

        const string query = "orleans grain placement";
        var (card, jobId) = await tab.SearchAsync(query, pages: 3);
        var bar = card.GetByRole(AriaRole.Progressbar, new() { Name = "Job progress" });
        await Expect(bar).ToHaveAttributeAsync("aria-valuenow", "100");
        await Expect(card.Locator(".status")).ToHaveTextAsync("completed");
        await tab.ScreenshotAsync("completed");

        var seen = await tab.ProgressSeenAsync(jobId);
        Assert.NotEmpty(seen);
        AssertNeverGoesBack(seen);
        Assert.Equal(100, seen[^1]);

        // Each query's own bar, and the job's numbers.
        await Expect(card.GetByRole(AriaRole.Progressbar, new() { Name = "Query 1" })).ToHaveAttributeAsync("aria-valuenow", "100");
        await Expect(card.Locator("dl.stats")).ToContainTextAsync("30");

        await card.GetByRole(AriaRole.Button, new() { Name = "Show results" }).ClickAsync();
        await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Hide results" })).ToHaveAttributeAsync("aria-expanded", "true");
        var results = card.Locator("li.result");
        await Expect(results).ToHaveCountAsync(30);
        await Expect(results.First.Locator(".result-title")).ToHaveTextAsync(FakeSearxng.ResultTitle(query, 1, 1));
        await Expect(results.First.Locator("a.result-title")).ToHaveAttributeAsync("href", new System.Text.RegularExpressions.Regex("^https://"));
        // A plain search writes no answer, and the page shows none.
        await Expect(card.Locator(".answer")).ToHaveCountAsync(0);
        await tab.ScreenshotAsync("results");
        await tab.ScreenshotAsync("results-window", fullPage: false);

        // History and rate limits come from the API with the same key.
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).First.ClickAsync();
        await Expect(page.Locator("#history li.history-item").Filter(new() { HasText = query })).ToHaveCountAsync(1);
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).Nth(1).ClickAsync();
        await Expect(page.Locator("#limits")).ToContainTextAsync("Provider web");
        await tab.ScreenshotAsync("history-and-limits");

        // The key went only in the Authorization header: never in a URL, on every API call.
        var api = tab.Requests.Skip(beforeSignIn).Where(r => new Uri(r.Url).AbsolutePath.StartsWith("/api/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(api);
        Assert.DoesNotContain(tab.Requests, r => r.Url.Contains(WebPageFixture.AliceKey, StringComparison.Ordinal));
        Assert.Contains(api, r => r.Url.Contains("/events", StringComparison.Ordinal));
        foreach (var request in api)
        {
            var headers = await request.AllHeadersAsync();
            Assert.True(headers.TryGetValue("authorization", out var authorization), $"{request.Url} went without a key");
            Assert.StartsWith("Bearer ", authorization);
        }
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task A_person_opens_results_and_reads_the_answer_with_its_citations()
    {
        await using var tab = await fixture.OpenSignedInAsync("answer");
        var page = tab.Page;
        await page.Locator("#research > summary").ClickAsync();
        await page.GetByRole(AriaRole.Combobox, new() { Name = "Mode", Exact = true }).SelectOptionAsync("research");
        const string question = "how does orleans place grains";
        var (card, jobId) = await tab.SearchAsync(question);
        await Expect(card.GetByRole(AriaRole.Progressbar, new() { Name = "Job progress" })).ToHaveAttributeAsync("aria-valuenow", "100");
        await Expect(card.Locator(".status")).ToHaveTextAsync("completed");

        await tab.ScreenshotAsync("completed");

        // The results open by themselves while the answer is being written (when the page saw it being written); the
        // person opens them otherwise. The finished answer replaces the draft.
        var toggle = card.Locator("button.results-toggle");
        await Expect(toggle).ToBeEnabledAsync();
        if (await toggle.GetAttributeAsync("aria-expanded") != "true")
        {
            await toggle.ClickAsync();
        }
        await Expect(toggle).ToHaveAttributeAsync("aria-expanded", "true");
        await Expect(toggle).ToHaveTextAsync("Hide results");
        await Expect(card.Locator(".answer-draft")).ToHaveCountAsync(0);
        var answer = card.GetByRole(AriaRole.Region, new() { Name = "Answer", Exact = true });
        await Expect(answer).ToContainTextAsync("Grains are virtual actors [1]. The runtime places them on demand [2].");
        await Expect(answer.Locator("strong")).ToHaveTextAsync("virtual actors");
        // The answer's markup is text: no element came of it, and it reads as written.
        await Expect(answer).ToContainTextAsync(WebPageFixture.HostileAnswerMarkup);
        Assert.Equal(0, await answer.Locator("img, script").CountAsync());
        Assert.Equal(0, await page.Locator("img").CountAsync());

        // Each [n] links to citation n, and citation n is the job's source n, one of its results.
        using var status = JsonDocument.Parse(await fixture.Alice.GetStringAsync($"/api/search-jobs/{jobId}"));
        var citations = status.RootElement.GetProperty("citations").EnumerateArray()
            .Select(c => (N: c.GetProperty("n").GetInt32(), Url: c.GetProperty("url").GetString()!)).ToList();
        Assert.Equal([1, 2], citations.Select(c => c.N));
        var resultUrls = status.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("url").GetString()).ToList();
        await Expect(card.Locator("ol.citations > li")).ToHaveCountAsync(2);
        await tab.ScreenshotAsync("answer");
        foreach (var (n, url) in citations)
        {
            Assert.Contains(url, resultUrls);
            var marker = answer.GetByRole(AriaRole.Link, new() { Name = $"citation {n}", Exact = true });
            await Expect(marker).ToHaveTextAsync($"{n}");
            var href = await marker.GetAttributeAsync("href") ?? throw new InvalidOperationException($"Citation {n} has no link.");
            Assert.StartsWith("#", href);
            var source = card.Locator($"ol.citations > li[id='{href[1..]}']");
            await Expect(source).ToHaveAttributeAsync("value", $"{n}");
            await Expect(source.Locator(".url")).ToHaveTextAsync(url);
            await marker.ClickAsync();
            await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"{System.Text.RegularExpressions.Regex.Escape(href)}$"));
            await Expect(source).ToBeInViewportAsync();
        }
        await answer.ScrollIntoViewIfNeededAsync();
        await tab.ScreenshotAsync("answer-window", fullPage: false);
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task A_person_cancels_a_second_job_while_it_runs()
    {
        const string query = "cancel this long search";
        using var hold = fixture.HoldPages(query, fromPage: 1);
        await using var tab = await fixture.OpenSignedInAsync("cancel");
        var page = tab.Page;
        var (first, _) = await tab.SearchAsync("a first quick search");
        await Expect(first.GetByRole(AriaRole.Progressbar, new() { Name = "Job progress" })).ToHaveAttributeAsync("aria-valuenow", "100");

        var (card, jobId) = await tab.SearchAsync(query, pages: 2, provider: "held");
        await Expect(card.Locator(".status")).ToHaveTextAsync("running");
        await tab.ScreenshotAsync("running");

        var cancel = card.GetByRole(AriaRole.Button, new() { Name = "Cancel" });
        await cancel.FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(card.Locator(".status")).ToHaveTextAsync("cancelled");
        await Expect(cancel).ToBeDisabledAsync();
        await Expect(card.GetByRole(AriaRole.Button, new() { Name = "Show results" })).ToBeEnabledAsync();
        await tab.ScreenshotAsync("cancelled");

        using var status = JsonDocument.Parse(await fixture.Alice.GetStringAsync($"/api/search-jobs/{jobId}"));
        Assert.Equal("cancelled", status.RootElement.GetProperty("status").GetString());
        // The first job was left alone.
        await Expect(first.Locator(".status")).ToHaveTextAsync("completed");

        // Delete asks first; a gateway without DELETE (405) says so and keeps the card, one with it removes the job.
        var confirm = card.GetByRole(AriaRole.Group, new() { Name = "Confirm delete" });
        await Expect(confirm).ToBeHiddenAsync();
        await card.GetByRole(AriaRole.Button, new() { Name = "Delete" }).ClickAsync();
        await Expect(confirm).ToBeVisibleAsync();
        await confirm.GetByRole(AriaRole.Button, new() { Name = "Yes, delete" }).ClickAsync();
        await Eventually.ReturnsAsync(async () => await card.CountAsync() == 0
                || (await card.Locator(".error").AllTextContentsAsync()).Any(t => t.Contains("cannot delete", StringComparison.Ordinal)),
            done => done, "the job to be deleted, or the page to say this gateway cannot delete");
        using var afterDelete = await fixture.Alice.GetAsync($"/api/search-jobs/{jobId}");
        var cardGone = await card.CountAsync() == 0;
        Assert.Equal(cardGone ? HttpStatusCode.NotFound : HttpStatusCode.OK, afterDelete.StatusCode);
        await tab.ScreenshotAsync("delete");
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task A_person_reads_results_as_their_pages_complete_and_again_after_a_reload()
    {
        const string query = "results as they arrive";
        // The first page goes through, the other two wait: its ten results are all there is until the test lets go.
        using var hold = fixture.HoldPages(query, fromPage: 2);
        await using var tab = await fixture.OpenSignedInAsync("live-results");
        var page = tab.Page;
        var (card, jobId) = await tab.SearchAsync(query, pages: 3, provider: "held");

        var show = card.GetByRole(AriaRole.Button, new() { Name = "Show results (10 so far)" });
        await Expect(show).ToBeEnabledAsync();
        await Expect(card.Locator(".status")).ToHaveTextAsync("running");
        await show.ClickAsync();
        var soFar = card.GetByRole(AriaRole.List, new() { Name = "Results so far" }).Locator("li.result");
        await Expect(soFar).ToHaveCountAsync(10);
        await Expect(soFar.First.Locator(".result-title")).ToHaveTextAsync(FakeSearxng.ResultTitle(query, 1, 1));
        await Expect(card.GetByRole(AriaRole.Heading, new() { Name = "Results so far (10)" })).ToBeVisibleAsync();
        await tab.ScreenshotAsync("results-so-far");

        // A reload finds the same results from the job's status: the events that carried them are not replayed.
        await page.ReloadAsync();
        var again = page.Locator($"article.job[data-job-id='{jobId}']");
        await Expect(again.GetByRole(AriaRole.Button, new() { Name = "Show results (10 so far)" })).ToBeEnabledAsync();
        await Expect(again.Locator(".status")).ToHaveTextAsync("running");

        hold.Release();
        await Expect(again.Locator(".status")).ToHaveTextAsync("completed");
        await again.GetByRole(AriaRole.Button, new() { Name = "Show results (30)" }).ClickAsync();
        await Expect(again.Locator("li.result")).ToHaveCountAsync(30);
        await Expect(again.GetByRole(AriaRole.Heading, new() { Name = "Results (30)" })).ToBeVisibleAsync();
        await Expect(again.GetByRole(AriaRole.List, new() { Name = "Results so far" })).ToHaveCountAsync(0);
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task Reloading_mid_job_reattaches_and_the_bar_never_goes_back()
    {
        const string query = "reload in the middle";
        // Two of four pages go through, two wait: the job stands at 50 % until the test lets them go.
        using var hold = fixture.HoldPages(query, fromPage: 3);
        await using var tab = await fixture.OpenSignedInAsync("reload");
        var page = tab.Page;
        var (card, jobId) = await tab.SearchAsync(query, pages: 4, provider: "held");
        var bar = card.GetByRole(AriaRole.Progressbar, new() { Name = "Job progress" });
        await Expect(bar).ToHaveAttributeAsync("aria-valuenow", "50");
        await tab.ScreenshotAsync("before-reload");
        var before = await tab.ProgressSeenAsync(jobId);
        AssertNeverGoesBack(before);

        await page.ReloadAsync();
        // Signed in still (the key is in this tab's sessionStorage), and the same job is back where it was.
        var again = page.Locator($"article.job[data-job-id='{jobId}']");
        await Expect(again).ToHaveCountAsync(1);
        var againBar = again.GetByRole(AriaRole.Progressbar, new() { Name = "Job progress" });
        await Expect(againBar).ToHaveAttributeAsync("aria-valuenow", "50");
        await Expect(again.Locator(".status")).ToHaveTextAsync("running");
        await tab.ScreenshotAsync("after-reload");

        // Streams end every 2.4 s here: wait until the page has resumed with Last-Event-ID, then let the job finish.
        await Eventually.TrueAsync(() => tab.Requests.Any(r => r.Url.Contains($"/api/search-jobs/{jobId}/events", StringComparison.Ordinal)
            && r.Headers.ContainsKey("last-event-id")), "the page to resume the event stream with Last-Event-ID");
        hold.Release();
        await Expect(againBar).ToHaveAttributeAsync("aria-valuenow", "100");
        await Expect(again.Locator(".status")).ToHaveTextAsync("completed");
        await tab.ScreenshotAsync("finished-after-reload");

        var after = await tab.ProgressSeenAsync(jobId);
        Assert.NotEmpty(after);
        Assert.True(after[0] >= before[^1], $"After the reload the bar started at {after[0]}, below the {before[^1]} it showed before.");
        AssertNeverGoesBack(after);
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task A_dropped_connection_resumes_from_the_last_event_without_a_jump_back()
    {
        const string query = "offline for a while";
        using var hold = fixture.HoldPages(query, fromPage: 2);
        await using var tab = await fixture.OpenSignedInAsync("offline");
        var (card, jobId) = await tab.SearchAsync(query, pages: 2, provider: "held");
        var bar = card.GetByRole(AriaRole.Progressbar, new() { Name = "Job progress" });
        await Expect(bar).ToHaveAttributeAsync("aria-valuenow", "50");

        // The network goes away: the stream ends (streams here last 2.4 s) and reconnects fail until it is back.
        await tab.Context.SetOfflineAsync(true);
        await Expect(card.Locator(".connection")).ToContainTextAsync("reconnecting");
        await tab.ScreenshotAsync("offline");
        hold.Release();
        using (var finished = JsonDocument.Parse(await Eventually.ReturnsAsync(() => fixture.Alice.GetStringAsync($"/api/search-jobs/{jobId}"),
            body => JsonDocument.Parse(body).RootElement.GetProperty("status").GetString() == "completed", "the job to complete while the page is offline")))
        {
            Assert.Equal(100, finished.RootElement.GetProperty("progress").GetDouble());
        }
        await tab.Context.SetOfflineAsync(false);

        await Expect(bar).ToHaveAttributeAsync("aria-valuenow", "100");
        await Expect(card.Locator(".status")).ToHaveTextAsync("completed");
        await Expect(card.Locator(".connection")).ToBeHiddenAsync();
        await tab.ScreenshotAsync("back-online");
        var seen = await tab.ProgressSeenAsync(jobId);
        AssertNeverGoesBack(seen);
        Assert.Equal(100, seen[^1]);
        Assert.Contains(tab.Requests, r => r.Url.Contains($"/api/search-jobs/{jobId}/events", StringComparison.Ordinal) && r.Headers.ContainsKey("last-event-id"));
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task The_page_is_usable_with_a_keyboard_at_360_px()
    {
        await using var tab = await fixture.OpenAsync("narrow", width: 360, height: 740);
        var page = tab.Page;
        await page.GotoAsync("/");
        await AssertNoHorizontalScrollAsync(page);
        await tab.ScreenshotAsync("sign-in");

        // Keyboard only: the key field, Enter to sign in.
        await page.GetByLabel("API key").FocusAsync();
        await page.Keyboard.TypeAsync(WebPageFixture.AliceKey);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "New search" })).ToBeVisibleAsync();
        await AssertNoHorizontalScrollAsync(page);

        const string query = "narrow screen search with a rather long query text that has to wrap";
        await page.GetByRole(AriaRole.Textbox, new() { Name = "Query" }).FocusAsync();
        await page.Keyboard.TypeAsync(query);
        // Tab through the form to the Search button (every control on the way is reachable), then Enter.
        for (var presses = 0; await page.EvaluateAsync<string>("() => document.activeElement?.id ?? ''") != "submit"; presses++)
        {
            Assert.True(presses < 30, "The Search button could not be reached with Tab.");
            await page.Keyboard.PressAsync("Tab");
        }
        await page.Keyboard.PressAsync("Enter");
        var card = page.Locator("article.job").First;
        await Expect(card.GetByRole(AriaRole.Progressbar, new() { Name = "Job progress" })).ToHaveAttributeAsync("aria-valuenow", "100");
        await card.GetByRole(AriaRole.Button, new() { Name = "Show results" }).FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(card.Locator("li.result")).ToHaveCountAsync(10);
        await AssertNoHorizontalScrollAsync(page);
        await tab.ScreenshotAsync("results");

        // Every control is inside the 360 px and big enough to hit.
        foreach (var control in await page.Locator("button:visible, input:visible, select:visible, textarea:visible, summary:visible").AllAsync())
        {
            var box = await control.BoundingBoxAsync();
            Assert.NotNull(box);
            Assert.True(box.X >= 0 && box.X + box.Width <= 360.5, $"A control sticks out of the screen: {await control.EvaluateAsync<string>("e => e.outerHTML.slice(0, 120)")} at x={box.X}, width {box.Width}");
        }
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task A_hostile_result_title_is_shown_as_text()
    {
        await using var tab = await fixture.OpenSignedInAsync("hostile");
        var page = tab.Page;
        var (card, _) = await tab.SearchAsync($"{WebPageFixture.HostileMarker} titles");
        await Expect(card.GetByRole(AriaRole.Progressbar, new() { Name = "Job progress" })).ToHaveAttributeAsync("aria-valuenow", "100");
        await card.GetByRole(AriaRole.Button, new() { Name = "Show results" }).ClickAsync();
        var first = card.Locator("li.result").First;
        await Expect(first.Locator(".result-title")).ToHaveTextAsync(WebPageFixture.HostileTitle);
        await Expect(first.Locator(".snippet")).ToHaveTextAsync(WebPageFixture.HostileSnippet);
        await tab.ScreenshotAsync("hostile-title");

        Assert.Equal(0, await page.Locator("img").CountAsync());
        Assert.Equal(0, await card.Locator("script, b").CountAsync());
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task The_answer_renderer_makes_citations_links_and_markup_text()
    {
        await using var tab = await fixture.OpenAsync("markdown");
        var page = tab.Page;
        await page.GotoAsync("/");
        // The page's own renderer module, in the page's own origin and CSP, on an answer that tries everything.
        var rendered = await page.EvaluateAsync<JsonElement>("""
            async () => {
              const { renderMarkdown } = await import('/markdown.js');
              const answer = [
                '## Findings',
                'Grains are virtual actors [1]. Both sources agree [1, 2]; a third is not cited [3].',
                '<img src=x onerror=alert(1)> and <script>alert(2)</script>',
                '- **bold** and *italic* with `<code>`',
                '- a [safe link](https://example.org/a) and a [bad one](javascript:alert(3))',
                '```',
                '<b>not bold</b>',
                '```',
              ].join('\n');
              const box = document.createElement('div');
              box.append(renderMarkdown(answer, { citationHref: (n) => (n <= 2 ? `#citation-${n}` : null) }));
              document.body.append(box);
              return {
                images: box.querySelectorAll('img, script, b').length,
                links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
                headings: [...box.querySelectorAll('h5')].map((h) => h.textContent),
                strong: box.querySelectorAll('strong').length,
                code: [...box.querySelectorAll('code')].map((c) => c.textContent),
                text: box.textContent,
              };
            }
            """);
        Assert.Equal(0, rendered.GetProperty("images").GetInt32());
        Assert.Equal(["#citation-1", "#citation-1", "#citation-2", "https://example.org/a"],
            rendered.GetProperty("links").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(["Findings"], rendered.GetProperty("headings").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(1, rendered.GetProperty("strong").GetInt32());
        Assert.Contains("<b>not bold</b>", rendered.GetProperty("code").EnumerateArray().Select(e => e.GetString()));
        var text = rendered.GetProperty("text").GetString()!;
        Assert.Contains("<img src=x onerror=alert(1)>", text);
        Assert.Contains("[3]", text);
        Assert.Contains("[bad one](javascript:alert(3))", text);
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task The_event_stream_parser_reads_every_line_ending_and_chunking()
    {
        await using var tab = await fixture.OpenAsync("sse-parser");
        await tab.Page.GotoAsync("/");
        // The page's own parser, fed a stream cut at awkward places: a CR LF split between chunks, CR alone, LF alone,
        // comments, a retry hint, multi-line data, an event without data (not dispatched) and the id carried forward.
        var events = await tab.Page.EvaluateAsync<JsonElement>("""
            async () => {
              const { SseParser } = await import('/sse.js');
              const seen = [];
              let retry = null;
              const parser = new SseParser((e) => seen.push(e), (ms) => { retry = ms; });
              for (const chunk of ['retry: 1000\r', '\n\r\n: keep-alive\n\nid: 7\nevent: snap', 'shot\ndata: {"a":1}\r\r',
                                   'event: nothing\n\n', 'data: line one\ndata:line two\n', '\n', 'id: 9\revent: completed\rdata: {}\r\r']) {
                parser.push(chunk);
              }
              return { seen, retry };
            }
            """);
        Assert.Equal(1000, events.GetProperty("retry").GetInt32());
        var seen = events.GetProperty("seen").EnumerateArray().Select(e => (e.GetProperty("id").GetString(), e.GetProperty("type").GetString(), e.GetProperty("data").GetString())).ToList();
        Assert.Equal([("7", "snapshot", "{\"a\":1}"), ("7", "message", "line one\nline two"), ("9", "completed", "{}")], seen);
        Assert.Empty(tab.Problems);
    }

    [Fact]
    public async Task The_page_needs_no_key_and_carries_strict_headers_while_the_api_still_needs_one()
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
        foreach (var path in new[] { "/", "/app.js", "/app.css", "/api.js", "/sse.js", "/markdown.js" })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            var csp = response.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains("script-src 'self'", csp);
            Assert.Contains("frame-ancestors 'none'", csp);
            Assert.DoesNotContain("unsafe-inline", csp);
        }
        using (var js = await anonymous.GetAsync("/app.js"))
        {
            Assert.Equal("text/javascript", js.Content.Headers.ContentType?.MediaType);
        }

        using var refused = await anonymous.GetAsync("/api/providers");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("nosniff", refused.Headers.GetValues("X-Content-Type-Options").Single());

        var providers = await fixture.Alice.GetFromJsonAsync<JsonElement>("/api/providers");
        Assert.Equal("web", providers.GetProperty("defaultProvider").GetString());
        var names = providers.GetProperty("providers").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["held", "local", "web"], names);
        Assert.DoesNotContain("127.0.0.1", providers.GetRawText());

        // A host the gateway does not answer to gets no page either.
        using var rebound = new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = "evil.example" } };
        using var refusedHost = await anonymous.SendAsync(rebound);
        Assert.Equal(HttpStatusCode.BadRequest, refusedHost.StatusCode);
    }

    private static void AssertNeverGoesBack(IReadOnlyList<int> values)
    {
        for (var i = 1; i < values.Count; i++)
        {
            Assert.True(values[i] >= values[i - 1], $"The bar went back from {values[i - 1]} to {values[i]}: {string.Join(", ", values)}");
        }
    }

    private static async Task AssertNoHorizontalScrollAsync(IPage page)
    {
        var widths = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
        var (scroll, client) = (widths[0], widths[1]);
        Assert.True(scroll <= client, $"The page scrolls sideways: {scroll} px of content in {client} px.");
    }
}
