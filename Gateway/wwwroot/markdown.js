// A small Markdown renderer that cannot emit markup from its input: it builds DOM nodes and puts every piece of text
// in with textContent. It knows paragraphs, headings, lists, code blocks, quotes, inline code, bold, italics, links
// (http and https only) and citation markers `[n]`, which link to the citation list.

/** The URL if it is http(s), else null: `javascript:`, `data:` and the like never become links. */
export function safeHttpUrl(text) {
  try {
    const url = new URL(text, document.baseURI);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

function element(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * Renders `markdown` into a DocumentFragment. `citationHref(n)` gives the link of citation n (or null when there is
 * no such citation, and the marker stays text).
 */
export function renderMarkdown(markdown, { citationHref = () => null } = {}) {
  const fragment = document.createDocumentFragment();
  const lines = String(markdown ?? '').replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = line.match(/^\s*(```|~~~)/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) {
        body.push(lines[i]);
        i++;
      }
      i++;
      const pre = element('pre');
      pre.append(element('code', body.join('\n')));
      fragment.append(pre);
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      // The answer sits under the page's own h3: its headings start at h4.
      const node = element(`h${Math.min(6, heading[1].length + 3)}`);
      appendInline(node, heading[2].replace(/\s+#+\s*$/, ''), citationHref);
      fragment.append(node);
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d{1,9}[.)])\s+/.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = element(ordered ? 'ol' : 'ul');
      while (i < lines.length && /^\s*([-*+]|\d{1,9}[.)])\s+/.test(lines[i]) && /^\s*\d/.test(lines[i]) === ordered) {
        const item = element('li');
        appendInline(item, lines[i].replace(/^\s*([-*+]|\d{1,9}[.)])\s+/, ''), citationHref);
        list.append(item);
        i++;
      }
      fragment.append(list);
      continue;
    }
    if (line.startsWith('>')) {
      const quote = [];
      while (i < lines.length && lines[i].startsWith('>')) {
        quote.push(lines[i].replace(/^>\s?/, ''));
        i++;
      }
      const node = element('blockquote');
      appendInline(node, quote.join(' '), citationHref);
      fragment.append(node);
      continue;
    }
    const paragraph = [];
    while (i < lines.length && lines[i].trim() !== '' && !/^(#{1,6}\s|\s*([-*+]|\d{1,9}[.)])\s+|>|\s*(```|~~~))/.test(lines[i])) {
      paragraph.push(lines[i].trim());
      i++;
    }
    const node = element('p');
    appendInline(node, paragraph.join(' '), citationHref);
    fragment.append(node);
  }
  return fragment;
}

// Inline pieces, leftmost first: `code`, [text](url), [n] and [n, m], **bold**, *italic* or _italic_.
const inlinePattern = /`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\b_([^_]+)_\b/g;

function appendInline(parent, text, citationHref) {
  let at = 0;
  for (const match of text.matchAll(inlinePattern)) {
    if (match.index > at) {
      parent.append(document.createTextNode(text.slice(at, match.index)));
    }
    at = match.index + match[0].length;
    if (match[1] !== undefined) {
      parent.append(element('code', match[1]));
    } else if (match[2] !== undefined) {
      const href = safeHttpUrl(match[3]);
      if (href) {
        const link = element('a');
        link.href = href;
        link.rel = 'noopener noreferrer nofollow';
        link.target = '_blank';
        appendInline(link, match[2], () => null);
        parent.append(link);
      } else {
        parent.append(document.createTextNode(match[0]));
      }
    } else if (match[4] !== undefined) {
      const numbers = match[4].split(',').map((n) => Number.parseInt(n.trim(), 10));
      if (numbers.every((n) => citationHref(n))) {
        const sup = element('sup');
        sup.className = 'citation-ref';
        sup.append(document.createTextNode('['));
        numbers.forEach((n, k) => {
          if (k > 0) {
            sup.append(document.createTextNode(', '));
          }
          const link = element('a', String(n));
          link.href = citationHref(n);
          link.setAttribute('aria-label', `citation ${n}`);
          sup.append(link);
        });
        sup.append(document.createTextNode(']'));
        parent.append(sup);
      } else {
        parent.append(document.createTextNode(match[0]));
      }
    } else if (match[5] !== undefined) {
      const strong = element('strong');
      appendInline(strong, match[5], citationHref);
      parent.append(strong);
    } else {
      const em = element('em');
      appendInline(em, match[6] ?? match[7], citationHref);
      parent.append(em);
    }
  }
  if (at < text.length) {
    parent.append(document.createTextNode(text.slice(at)));
  }
}
