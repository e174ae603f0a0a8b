// The web page: sign-in, the search form, live jobs, history and rate limits. Every piece of text from the service
// goes into the page with textContent (or through markdown.js, which does the same), never as markup.

import { api, apiKey, setApiKey, ApiError, jobPath, idempotencyKey } from './api.js';
import { followJob, isTerminalStatus } from './sse.js';
import { renderMarkdown, safeHttpUrl } from './markdown.js';

const $ = (id) => document.getElementById(id);

/** An element with attributes (`text` sets textContent, `class` the class) and children. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name === 'text') {
      node.textContent = String(value);
    } else if (name === 'class') {
      node.className = value;
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

const numberFormat = new Intl.NumberFormat();
const formatNumber = (n) => numberFormat.format(Number(n) || 0);
const formatTime = (text) => {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString();
};

function announce(text) {
  $('announcer').textContent = text;
}

// ---------------------------------------------------------------- progress bars

/** A bar with role progressbar; its value only ever moves forward. */
function progressBar(label, className = 'bar') {
  const fill = el('div', { class: 'bar-fill' });
  const bar = el('div', {
    class: className, role: 'progressbar', 'aria-label': label,
    'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0',
  }, fill);
  return {
    bar,
    set(percent, text) {
      const value = Math.max(0, Math.min(100, Number(percent) || 0));
      // Floored, so the bar says 100 only when the work is all done.
      bar.setAttribute('aria-valuenow', String(Math.floor(value)));
      if (text) {
        bar.setAttribute('aria-valuetext', text);
      }
      fill.style.width = `${value}%`;
    },
  };
}

// ---------------------------------------------------------------- open jobs

const openJobsKey = 'orleans-search.open-jobs';
const jobs = new Map();
let jobCounter = 0;

function storedJobIds() {
  try {
    const ids = JSON.parse(sessionStorage.getItem(openJobsKey) || '[]');
    return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string' && id.length > 0 && id.length <= 200) : [];
  } catch {
    return [];
  }
}

function storeJobIds() {
  // Only job ids: nothing secret, nothing the service would not show again.
  sessionStorage.setItem(openJobsKey, JSON.stringify([...jobs.keys()]));
  $('jobs-empty').hidden = jobs.size > 0;
}

function openJob(jobId, initialStatus) {
  const existing = jobs.get(jobId);
  if (existing) {
    existing.root.focus();
    return existing;
  }
  const view = new JobView(jobId);
  jobs.set(jobId, view);
  $('jobs').prepend(view.root);
  storeJobIds();
  view.start(initialStatus);
  return view;
}

function closeJob(view) {
  view.stop();
  view.root.remove();
  jobs.delete(view.jobId);
  storeJobIds();
}

/** One search result as a list item; every field is text (a hostile title stays text), and only http(s) URLs link. */
function resultItem(r) {
  const href = safeHttpUrl(r.url ?? '');
  const title = r.title || r.url || '(untitled)';
  const foundBy = Array.isArray(r.queries) && r.queries.length > 0 ? `found by: ${r.queries.join(' · ')}` : `${r.query ?? ''} · page ${r.page ?? '?'} · #${r.rank ?? '?'}`;
  return el('li', { class: 'result' },
    href ? el('a', { class: 'result-title', href, rel: 'noopener noreferrer nofollow', target: '_blank', text: title }) : el('span', { class: 'result-title', text: title }),
    el('span', { class: 'url', text: r.url ?? '' }),
    r.snippet ? el('p', { class: 'snippet', text: r.snippet }) : null,
    el('span', { class: 'hint', text: foundBy }));
}

const stepNames = {
  expand: 'Expanding the question', search: 'Searching', read: 'Reading pages', answer: 'Writing the answer',
};

class JobView {
  constructor(jobId) {
    this.jobId = jobId;
    this.n = ++jobCounter;
    this.progress = 0;
    this.status = 'pending';
    this.queries = [];
    this.stages = [];
    this.stats = null;
    this.answerDraft = '';
    this.lastAnnounced = -1;
    this.finalLoaded = false;
    // URLs of the results shown as their pages complete (one item each, in the order found); the fused list replaces them.
    this.liveResults = new Set();
    this.abort = new AbortController();
    this.build();
  }

  id(part) {
    return `job-${this.n}-${part}`;
  }

  build() {
    this.title = el('h3', { id: this.id('title'), text: 'Job' });
    this.statusText = el('span', { class: 'status', text: 'pending' });
    this.bar = progressBar('Job progress', 'bar job-progress');
    this.percent = el('span', { class: 'percent', text: '0%', 'aria-hidden': 'true' });
    this.step = el('p', { class: 'step' });
    this.connectionText = el('p', { class: 'connection hint' });
    this.stageList = el('ul', { class: 'stages', 'aria-label': 'Stages' });
    this.queryList = el('ul', { class: 'queries', 'aria-label': 'Queries' });
    this.statsList = el('dl', { class: 'stats' });
    this.error = el('p', { class: 'error', role: 'alert' });

    this.cancelButton = el('button', { type: 'button', class: 'cancel', text: 'Cancel' });
    this.cancelButton.addEventListener('click', () => this.cancel());
    this.resultsButton = el('button', {
      type: 'button', class: 'results-toggle', text: 'Show results', 'aria-expanded': 'false', 'aria-controls': this.id('results'), disabled: true,
    });
    this.resultsButton.addEventListener('click', () => this.toggleResults());
    this.deleteButton = el('button', { type: 'button', class: 'delete', text: 'Delete' });
    this.deleteButton.addEventListener('click', () => this.askDelete());
    this.closeButton = el('button', { type: 'button', class: 'close', text: 'Close', 'aria-label': 'Close this panel (the job itself goes on)' });
    this.closeButton.addEventListener('click', () => closeJob(this));

    this.confirmYes = el('button', { type: 'button', class: 'danger', text: 'Yes, delete' });
    this.confirmYes.addEventListener('click', () => this.delete());
    this.confirmNo = el('button', { type: 'button', text: 'Keep it' });
    this.confirmNo.addEventListener('click', () => {
      this.confirmRow.hidden = true;
      this.deleteButton.focus();
    });
    this.confirmRow = el('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm delete' },
      el('span', { text: 'Delete this job and everything it found?' }), this.confirmYes, this.confirmNo);
    this.confirmRow.hidden = true;

    this.resultsPanel = el('div', { id: this.id('results'), class: 'results-panel' });
    this.resultsPanel.hidden = true;
    // Kept across renders and appended to, so a job of thousands of results does not rebuild its list per page.
    this.draftHeading = el('h4', { text: 'Answer (being written)' });
    this.draftText = el('p', { class: 'answer-draft' });
    this.liveHeading = el('h4');
    this.liveList = el('ol', { class: 'results live', 'aria-label': 'Results so far' });

    this.root = el('article', { class: 'job', 'data-job-id': this.jobId, 'aria-labelledby': this.id('title'), tabindex: '-1' },
      this.title,
      el('p', { class: 'meta' }, this.statusText, ' · ', el('code', { class: 'job-id', text: this.jobId })),
      el('div', { class: 'bar-row' }, this.bar.bar, this.percent),
      this.step,
      this.connectionText,
      this.stageList,
      this.queryList,
      this.statsList,
      el('div', { class: 'actions' }, this.cancelButton, this.resultsButton, this.deleteButton, this.closeButton),
      this.confirmRow,
      this.error,
      this.resultsPanel);
  }

  async start(initialStatus) {
    try {
      const status = initialStatus ?? await api(jobPath(this.jobId), { signal: this.abort.signal });
      this.applyStatus(status);
      if (isTerminalStatus(status.status)) {
        this.showFinal(status.results ? status : await api(jobPath(this.jobId), { signal: this.abort.signal }));
        return;
      }
      await this.follow(status.lastSeq ?? null);
    } catch (error) {
      this.fail(error);
    }
  }

  async follow(afterSeq) {
    await followJob(this.jobId, {
      afterSeq,
      signal: this.abort.signal,
      onItem: (item) => this.applyItem(item),
      onConnection: (state, delay) => {
        this.connectionText.textContent = state === 'reconnecting'
          ? `Connection lost; reconnecting in ${Math.max(1, Math.round((delay ?? 0) / 1000))} s…`
          : '';
      },
    });
    if (!this.abort.signal.aborted && isTerminalStatus(this.status)) {
      await this.loadFinal();
    }
  }

  stop() {
    this.abort.abort();
  }

  fail(error) {
    if (this.abort.signal.aborted) {
      return;
    }
    if (error instanceof ApiError && error.status === 401) {
      signOut('Your API key was not accepted; sign in again.');
      return;
    }
    if (error instanceof ApiError && error.status === 404) {
      this.error.textContent = 'This job no longer exists (it was deleted or passed its retention).';
      this.status = 'gone';
      this.render();
      return;
    }
    this.error.textContent = error instanceof Error ? error.message : String(error);
  }

  applyItem({ type, data }) {
    if (type === 'snapshot') {
      this.applyStatus(data);
    } else {
      this.applyEvent(type, data);
    }
  }

  setProgress(value) {
    const number = Number(value);
    if (Number.isFinite(number)) {
      this.progress = Math.max(this.progress, number);
    }
  }

  applyStatus(status) {
    if (!status || typeof status !== 'object') {
      return;
    }
    this.setProgress(status.progress);
    this.status = status.status ?? this.status;
    this.message = status.message ?? null;
    this.currentStep = status.currentStep ?? this.currentStep;
    this.queries = Array.isArray(status.queries) ? status.queries.map((q) => ({ ...q })) : this.queries;
    this.stages = Array.isArray(status.stages) ? status.stages : this.stages;
    this.stats = status.stats ?? this.stats;
    this.provider = status.provider ?? this.provider;
    this.pages = status.pages ?? this.pages;
    this.jobError = status.error ?? null;
    if (!this.finalLoaded && Array.isArray(status.results)) {
      this.addLiveResults(status.results);
    }
    this.render();
  }

  addLiveResults(results) {
    for (const r of results) {
      const key = r && typeof r.url === 'string' ? r.url : null;
      if (key && !this.liveResults.has(key)) {
        this.liveResults.add(key);
        this.liveList.append(resultItem(r));
      }
    }
  }

  applyEvent(type, e) {
    if (!e || typeof e !== 'object') {
      return;
    }
    this.setProgress(e.progress);
    this.status = e.status ?? this.status;
    this.stats = e.stats ?? this.stats;
    if (e.message) {
      this.message = e.message;
    }
    if (e.currentStep) {
      this.currentStep = e.currentStep;
    }
    if (Array.isArray(e.stages)) {
      this.stages = e.stages;
    }
    if (Number.isInteger(e.queryIndex) && e.queryIndex >= 0 && e.queryIndex < 1000 && !this.queries[e.queryIndex] && e.query) {
      this.queries[e.queryIndex] = { query: e.query, status: 'pending', pagesDone: 0, pagesTotal: this.pages ?? 1, resultCount: 0 };
    }
    const query = Number.isInteger(e.queryIndex) ? this.queries[e.queryIndex] : undefined;
    switch (type) {
      case 'query.started':
        if (query) query.status = 'running';
        break;
      case 'page.completed':
        if (query) {
          query.pagesDone = Math.min(query.pagesTotal ?? Infinity, (query.pagesDone ?? 0) + 1);
          query.resultCount = (query.resultCount ?? 0) + (Number(e.resultCount) || 0);
        }
        if (Array.isArray(e.results) && !this.finalLoaded) {
          this.addLiveResults(e.results);
        }
        break;
      case 'page.failed':
        if (query && e.error) query.error = e.error;
        break;
      case 'query.completed':
        if (query) {
          query.status = 'completed';
          query.pagesDone = query.pagesTotal ?? query.pagesDone;
        }
        break;
      case 'query.failed':
        if (query) {
          query.status = 'failed';
          query.error = e.error ?? query.error;
        }
        break;
      case 'answer.delta':
        this.answerDraft += typeof e.delta === 'string' ? e.delta : typeof e.text === 'string' ? e.text : '';
        break;
      case 'failed':
        this.jobError = e.error ?? e.message ?? this.jobError;
        break;
      default:
        break;
    }
    this.render();
  }

  render() {
    const first = this.queries[0]?.query;
    if (first) {
      this.title.textContent = this.queries.length > 1 ? `${first} (+${this.queries.length - 1} more)` : first;
    }
    const terminal = isTerminalStatus(this.status);
    this.statusText.textContent = this.status;
    this.statusText.dataset.status = this.status;
    const percent = Math.floor(this.progress);
    this.bar.set(this.progress, `${percent}%, ${this.status}`);
    this.percent.textContent = `${percent}%`;
    if (percent >= this.lastAnnounced + 25 || (terminal && this.lastAnnounced !== 1000)) {
      this.lastAnnounced = terminal ? 1000 : percent - (percent % 25);
      announce(`${this.title.textContent}: ${percent}%, ${this.status}`);
    }

    const step = this.currentStep ? (stepNames[this.currentStep] ?? this.currentStep) : null;
    this.step.textContent = [step, this.message, this.jobError ? `Error: ${this.jobError}` : null].filter(Boolean).join(' · ');

    this.renderStages();
    this.renderQueries();
    this.renderStats();

    this.cancelButton.disabled = terminal || this.status === 'gone';
    this.deleteButton.disabled = this.status === 'gone';
    if (!this.finalLoaded) {
      this.renderLive();
    }
  }

  /** While the job runs: the answer as it is written (shown at once), and the results found so far (behind the button). */
  renderLive() {
    const parts = [];
    if (this.answerDraft) {
      this.draftText.textContent = this.answerDraft;
      parts.push(this.draftHeading, this.draftText);
      this.resultsPanel.hidden = false;
    }
    const count = this.liveResults.size;
    if (count > 0) {
      this.liveHeading.textContent = `Results so far (${count})`;
      parts.push(this.liveHeading, this.liveList);
    }
    if (parts.length === 0) {
      return;
    }
    if (parts.some((part, i) => this.resultsPanel.children[i] !== part) || this.resultsPanel.children.length !== parts.length) {
      this.resultsPanel.replaceChildren(...parts);
    }
    if (count > 0) {
      this.resultsButton.disabled = false;
      this.setResultsButton(count, ' so far');
    }
  }

  setResultsButton(count, suffix = '') {
    this.resultsButton.textContent = this.resultsPanel.hidden ? `Show results (${count}${suffix})` : 'Hide results';
    this.resultsButton.setAttribute('aria-expanded', String(!this.resultsPanel.hidden));
  }

  renderStages() {
    this.stageList.replaceChildren(...this.stages.map((stage, i) => {
      const total = Number(stage.unitsTotal) || 0;
      const done = Number(stage.unitsDone) || 0;
      const bar = progressBar(`Stage ${stage.name ?? i + 1}`, 'bar small');
      bar.set(total > 0 ? (100 * done) / total : stage.status === 'completed' ? 100 : 0, `${done} of ${total}`);
      const cost = stage.costUsd ? ` · $${Number(stage.costUsd).toFixed(4)}` : '';
      return el('li', { class: 'stage' },
        el('span', { class: 'label', text: `${stage.name ?? 'stage'}: ${stage.status ?? ''} (${done}/${total})${cost}` }), bar.bar);
    }));
    this.stageList.hidden = this.stages.length === 0;
  }

  renderQueries() {
    this.queryList.replaceChildren(...this.queries.map((q, i) => {
      if (!q) {
        return el('li');
      }
      const total = Number(q.pagesTotal) || 0;
      const done = Number(q.pagesDone) || 0;
      const bar = progressBar(`Query ${i + 1}`, 'bar small');
      bar.set(total > 0 ? (100 * done) / total : 0, `${done} of ${total} pages`);
      const origin = q.origin && q.origin !== 'user' ? el('span', { class: 'tag', text: q.origin }) : null;
      return el('li', { class: 'query' },
        el('span', { class: 'label' }, el('span', { class: 'query-text', text: q.query }), origin,
          el('span', { class: 'hint', text: ` ${q.status ?? ''} · ${done}/${total} pages · ${formatNumber(q.resultCount)} results` })),
        bar.bar,
        q.error ? el('span', { class: 'error', text: q.error }) : null);
    }));
  }

  renderStats() {
    const s = this.stats;
    if (!s) {
      return;
    }
    const rows = [
      ['Results', formatNumber(s.totalResults)],
      ['Provider calls', formatNumber(s.apiCalls)],
      ['Cache hits', `${formatNumber(s.cacheHits)} of ${formatNumber((s.cacheHits ?? 0) + (s.cacheMisses ?? 0))}`],
      ['Errors', formatNumber(s.errors)],
      ['Retries', formatNumber(s.retries)],
      ['Rate-limit wait', `${formatNumber(s.rateLimitWaitMs)} ms`],
    ];
    if (s.tokens && typeof s.tokens === 'object') {
      const t = s.tokens;
      rows.push(['Tokens', `${formatNumber(t.input)} in (${formatNumber(t.cachedInput)} cached) · ${formatNumber(t.output)} out (${formatNumber(t.reasoning)} reasoning)`]);
    }
    if (s.costUsd !== undefined && s.costUsd !== null) {
      rows.push(['Cost', `$${Number(s.costUsd).toFixed(4)}`]);
    }
    this.statsList.replaceChildren(...rows.flatMap(([name, value]) => [el('dt', { text: name }), el('dd', { text: value })]));
  }

  async loadFinal() {
    try {
      this.showFinal(await api(jobPath(this.jobId), { signal: this.abort.signal }));
    } catch (error) {
      this.fail(error);
    }
  }

  showFinal(status) {
    this.applyStatus(status);
    this.finalLoaded = true;
    const results = Array.isArray(status.results) ? status.results : [];
    const panel = [];
    const citations = Array.isArray(status.citations) ? status.citations : [];
    const citationIds = new Map(citations.filter((c) => Number.isInteger(c.n)).map((c) => [c.n, this.id(`citation-${c.n}`)]));
    if (typeof status.answer === 'string' && status.answer.length > 0) {
      const answer = el('div', { class: 'answer' });
      answer.append(renderMarkdown(status.answer, { citationHref: (n) => (citationIds.has(n) ? `#${citationIds.get(n)}` : null) }));
      panel.push(el('section', { class: 'answer-section', 'aria-label': 'Answer' }, el('h4', { text: 'Answer' }), answer));
      if (status.budgetExhausted) {
        panel.push(el('p', { class: 'hint', text: 'The budget ran out: this answer was written from what was found before it did.' }));
      }
    }
    if (citations.length > 0) {
      panel.push(el('h4', { text: 'Citations' }));
      panel.push(el('ol', { class: 'citations' }, ...citations.map((c) => {
        const href = safeHttpUrl(c.url ?? '');
        const label = c.title || c.url || `Source ${c.n}`;
        return el('li', { id: citationIds.get(c.n) ?? null, value: Number.isInteger(c.n) ? c.n : null, tabindex: '-1' },
          href ? el('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank', text: label }) : el('span', { text: label }),
          c.url ? el('span', { class: 'url', text: c.url }) : null);
      })));
    }
    panel.push(el('h4', { text: `Results (${results.length})` }));
    panel.push(el('ol', { class: 'results' }, ...results.map(resultItem)));
    this.resultsPanel.replaceChildren(...panel);
    this.liveResults.clear();
    this.liveList.replaceChildren();
    this.resultsButton.disabled = false;
    this.setResultsButton(results.length);
    refreshSoon();
  }

  toggleResults() {
    this.resultsPanel.hidden = !this.resultsPanel.hidden;
    const count = this.resultsPanel.querySelectorAll('li.result').length;
    this.setResultsButton(count, this.finalLoaded ? '' : ' so far');
  }

  async cancel() {
    this.cancelButton.disabled = true;
    this.error.textContent = '';
    try {
      const status = await api(`${jobPath(this.jobId)}/cancel`, { method: 'POST' });
      this.applyStatus(status);
      announce(`${this.title.textContent}: cancelled`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        this.error.textContent = 'The job had already ended; there was nothing to cancel.';
      } else {
        this.fail(error);
      }
      this.render();
    }
  }

  askDelete() {
    this.confirmRow.hidden = false;
    this.confirmNo.focus();
  }

  async delete() {
    this.confirmRow.hidden = true;
    this.error.textContent = '';
    try {
      await api(jobPath(this.jobId), { method: 'DELETE' });
      announce(`${this.title.textContent}: deleted`);
      closeJob(this);
      $('jobs-title').focus();
      loadHistory();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        announce('The job was already gone.');
        closeJob(this);
        loadHistory();
      } else if (error instanceof ApiError && error.status === 405) {
        this.error.textContent = 'This gateway cannot delete jobs yet (it answered 405). Finished jobs go by themselves after their retention period.';
        this.deleteButton.focus();
      } else {
        this.fail(error);
      }
    }
  }
}

// ---------------------------------------------------------------- the search form

function numberField(id, errors, { min, max, integer = true }) {
  const input = $(id);
  input.removeAttribute('aria-invalid');
  const text = input.value.trim();
  if (text === '') {
    return undefined;
  }
  const value = Number(text);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || (max !== undefined && value > max)) {
    input.setAttribute('aria-invalid', 'true');
    const label = document.querySelector(`label[for="${id}"]`)?.textContent ?? id;
    errors.push(`${label} must be ${integer ? 'a whole number' : 'a number'} from ${min}${max !== undefined ? ` to ${max}` : ' up'}.`);
    return undefined;
  }
  return value;
}

/** The JobSpec the form describes; research options only when set. */
function readSpec() {
  const errors = [];
  const queryInput = $('query');
  queryInput.removeAttribute('aria-invalid');
  const lines = queryInput.value.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
  if (lines.length === 0) {
    queryInput.setAttribute('aria-invalid', 'true');
    errors.push('Enter a query.');
  }
  const spec = lines.length > 1 ? { queries: lines } : { query: lines[0] };
  const provider = $('provider').value.trim();
  if (provider) {
    spec.provider = provider;
  }
  const pages = numberField('pages', errors, { min: 1, max: 10 });
  if (pages !== undefined) {
    spec.pages = pages;
  }
  spec.cache = $('cache').checked;
  const mode = $('mode').value;
  if (mode) {
    spec.mode = mode;
  }
  const expand = $('expand').value;
  if (expand) {
    spec.expand = expand === 'true' ? true : expand === 'false' ? false : Number(expand);
  }
  const read = numberField('read', errors, { min: 1, max: 50 });
  if (read !== undefined) {
    spec.read = read;
  }
  const answer = $('answer').value;
  if (answer) {
    spec.answer = answer === 'true';
  }
  const depth = numberField('depth', errors, { min: 1, max: 10 });
  if (depth !== undefined) {
    spec.depth = depth;
  }
  const maxTokens = numberField('max-tokens', errors, { min: 1 });
  const maxCostUsd = numberField('max-cost', errors, { min: 0, integer: false });
  if (maxTokens !== undefined || maxCostUsd !== undefined) {
    spec.budget = {};
    if (maxTokens !== undefined) spec.budget.maxTokens = maxTokens;
    if (maxCostUsd !== undefined) spec.budget.maxCostUsd = maxCostUsd;
  }
  const llm = $('llm').value.trim();
  if (llm) {
    spec.llm = llm;
  }
  return { spec, errors };
}

async function submitSearch(event) {
  event.preventDefault();
  const errorText = $('form-error');
  errorText.textContent = '';
  const { spec, errors } = readSpec();
  if (errors.length > 0) {
    errorText.textContent = errors.join(' ');
    document.querySelector('#search-form [aria-invalid="true"]')?.focus();
    return;
  }
  const button = $('submit');
  button.disabled = true;
  try {
    const status = await api('/api/search-jobs', { method: 'POST', body: spec, headers: { 'Idempotency-Key': idempotencyKey() } });
    openJob(status.jobId, status);
    announce('Search started.');
    loadHistory();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut('Your API key was not accepted; sign in again.');
      return;
    }
    errorText.textContent = error instanceof Error ? error.message : String(error);
  } finally {
    button.disabled = false;
  }
}

/** A select of the configured providers when the gateway lists them; otherwise the text field stays. */
function showProviders(list) {
  if (!list || !Array.isArray(list.providers) || list.providers.length === 0) {
    return;
  }
  const select = el('select', { id: 'provider', name: 'provider' },
    el('option', { value: '', text: `default (${list.defaultProvider ?? 'configured'})` }),
    ...list.providers.map((p) => el('option', { value: p.name, text: p.kind ? `${p.name} (${p.kind})` : p.name })));
  $('provider').replaceWith(select);
}

// ---------------------------------------------------------------- history

const historyState = { cursors: [null], index: 0, next: null };

async function loadHistory() {
  const errorText = $('history-error');
  try {
    const query = new URLSearchParams({ limit: '10' });
    const cursor = historyState.cursors[historyState.index];
    if (cursor) {
      query.set('cursor', cursor);
    }
    const list = await api(`/api/search-jobs?${query}`);
    errorText.textContent = '';
    historyState.next = list.nextCursor ?? null;
    const items = Array.isArray(list.items) ? list.items : [];
    $('history').replaceChildren(...items.map((job) => {
      const open = el('button', { type: 'button', text: 'Open', 'aria-label': `Open job: ${job.title}` });
      open.addEventListener('click', () => openJob(job.jobId).root.focus());
      return el('li', { class: 'history-item' },
        el('span', { class: 'history-title', text: job.title }),
        el('span', { class: 'hint', text: `${job.status} · ${job.queryCount} ${job.queryCount === 1 ? 'query' : 'queries'} · ${formatTime(job.createdAt)}` }),
        open);
    }));
    if (items.length === 0) {
      $('history').append(el('li', { class: 'hint', text: 'No jobs yet.' }));
    }
    $('history-older').disabled = !historyState.next;
    $('history-newer').disabled = historyState.index === 0;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut('Your API key was not accepted; sign in again.');
      return;
    }
    errorText.textContent = error instanceof Error ? error.message : String(error);
  }
}

// ---------------------------------------------------------------- rate limits

function limiterCard(title, l) {
  const rows = [
    ['Permits available', `${(Number(l.permitsAvailable) || 0).toFixed(1)} of ${formatNumber(l.burstInUse || l.burst)}`],
    ['Per minute', formatNumber(l.permitsPerMinute)],
    ['In flight', `${formatNumber(l.inFlight)} of ${formatNumber(l.maxConcurrency)}`],
    ['Queued', formatNumber(l.queued)],
    ['Granted', formatNumber(l.granted)],
    ['Throttled (429)', formatNumber(l.throttled)],
    ['Circuit', l.circuit ?? 'closed'],
  ];
  if (l.pausedUntil) {
    rows.push(['Paused until', formatTime(l.pausedUntil)]);
  }
  return el('section', { class: 'limiter', 'aria-label': title },
    el('h3', { text: title }),
    el('dl', { class: 'stats' }, ...rows.flatMap(([name, value]) => [el('dt', { text: name }), el('dd', { text: value })])));
}

async function refreshLimits() {
  const errorText = $('limits-error');
  try {
    const limits = await api('/api/rate-limits');
    errorText.textContent = '';
    const cards = [];
    if (limits.user) {
      cards.push(limiterCard('You', limits.user));
    }
    for (const provider of Array.isArray(limits.providers) ? limits.providers : []) {
      cards.push(limiterCard(`Provider ${String(provider.key ?? '').replace(/^provider:/, '')}`, provider));
    }
    $('limits').replaceChildren(...cards);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      return;
    }
    errorText.textContent = error instanceof Error ? error.message : String(error);
  }
}

/** History and rate limits again, once, shortly after jobs end (several ending together cost one refresh). */
let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    loadHistory();
    refreshLimits();
  }, 300);
}

// ---------------------------------------------------------------- sign-in

function show(part) {
  $('loading').hidden = true;
  $('sign-in').hidden = part !== 'sign-in';
  $('app').hidden = part !== 'app';
}

/** Whether the gateway lets us in with the key we hold (or without one): the provider list, or null if it has none. */
async function probe() {
  try {
    return { providers: await api('/api/providers') };
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
      await api('/api/search-jobs?limit=1');
      return { providers: null };
    }
    throw error;
  }
}

function signOut(message) {
  for (const view of jobs.values()) {
    view.stop();
  }
  setApiKey(null);
  $('jobs').replaceChildren();
  jobs.clear();
  sessionStorage.removeItem(openJobsKey);
  $('who').textContent = '';
  $('sign-out').hidden = true;
  show('sign-in');
  $('sign-in-error').textContent = message ?? '';
  $('api-key').focus();
}

async function enter(providers) {
  show('app');
  $('who').textContent = apiKey() ? 'Signed in with an API key' : 'No key needed on this machine';
  $('sign-out').hidden = !apiKey();
  showProviders(providers);
  for (const jobId of storedJobIds()) {
    openJob(jobId);
  }
  storeJobIds();
  loadHistory();
  refreshLimits();
}

async function signIn(event) {
  event.preventDefault();
  const input = $('api-key');
  const key = input.value.trim();
  const errorText = $('sign-in-error');
  errorText.textContent = '';
  if (!key) {
    errorText.textContent = 'Enter your API key.';
    input.focus();
    return;
  }
  setApiKey(key);
  try {
    const { providers } = await probe();
    input.value = '';
    await enter(providers);
    $('query').focus();
  } catch (error) {
    setApiKey(null);
    errorText.textContent = error instanceof ApiError && error.status === 401
      ? 'That key was not accepted.'
      : error instanceof Error ? error.message : String(error);
    input.focus();
  }
}

async function main() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut('Signed out.'));
  $('search-form').addEventListener('submit', submitSearch);
  $('history-refresh').addEventListener('click', () => {
    historyState.cursors = [null];
    historyState.index = 0;
    loadHistory();
  });
  $('history-older').addEventListener('click', () => {
    if (historyState.next) {
      historyState.cursors[historyState.index + 1] = historyState.next;
      historyState.index++;
      loadHistory();
    }
  });
  $('history-newer').addEventListener('click', () => {
    if (historyState.index > 0) {
      historyState.index--;
      loadHistory();
    }
  });
  $('limits-refresh').addEventListener('click', refreshLimits);
  $('jobs-title').setAttribute('tabindex', '-1');
  try {
    const { providers } = await probe();
    await enter(providers);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setApiKey(null);
      show('sign-in');
      $('api-key').focus();
    } else {
      show('sign-in');
      $('sign-in-error').textContent = `The service could not be reached: ${error instanceof Error ? error.message : error}`;
    }
  }
}

main();
