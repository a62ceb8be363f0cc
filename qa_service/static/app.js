// Chat page of qa-service. No framework, no build step. Every piece of text from the
// user or the server goes into the page through textContent / text nodes, never as HTML.
(function () {
  'use strict';

  var API_URL = '/api/ask';
  var EXPLAIN_URL = '/api/explain';
  var DOCUMENT_URL = '/api/documents/';
  var TOP_K = 3;
  var MAX_LENGTH = 1000;
  var TIMEOUT_MS = 60000;
  var HISTORY_SENT = 5;       // earlier exchanges sent with a question (the server leans on the last 3 by default)
  var MAX_ANSWER_SENT = 1500; // longer answers go back as the question alone (the body stays well under 64 KiB)
  // one kept conversation per corpus (its title names it), so another corpus served later starts empty
  var STORE_PREFIX = 'qa-service:conversation:';
  var STORE_KEY = STORE_PREFIX + ((document.querySelector('.site-title') || {}).textContent || '');
  var MAX_STORED = 100;       // turns kept across reloads (older ones are dropped first)
  var CONFIDENT = 0.5;        // answer.confidence at or above this reads "Answer" (when the API sends it)
  var NETWORK_ERROR = 'Could not reach the server. Check that it is running and try again.';
  var TIMEOUT_ERROR = 'The server took too long to answer. Try again in a moment.';

  var form = document.getElementById('ask-form');
  var input = document.getElementById('question');
  var sendButton = document.getElementById('send');
  var newButton = document.getElementById('new-conversation');
  var thread = document.getElementById('thread');
  var intro = document.getElementById('intro');
  var charCount = document.getElementById('char-count');
  var docView = document.getElementById('document-view');
  var docTitle = document.getElementById('document-view-title');
  var docBody = document.getElementById('document-view-body');
  var docClose = document.getElementById('document-view-close');

  var history = [];        // exchanges of successful turns, oldest first: {question, answer}
  var stored = [];         // successful turns as kept in localStorage: {question, data, sent}
  var pending = null;      // {controller, timedOut} while a request is in flight
  var turnCount = 0;       // makes element ids unique within the page
  var documents = {};      // document id -> promise of /api/documents/<id>
  var docOpener = null;    // what to focus again when the document view closes
  var reduceMotion = window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  var autoSize = !(window.CSS && CSS.supports && CSS.supports('field-sizing', 'content'));

  // An earlier turn as the API takes it back, so the server need not answer it again.
  function exchange(question, answer) {
    if (!answer) return { question: question, answer: null };
    if (answer.text.length > MAX_ANSWER_SENT) return question;
    return {
      question: question,
      answer: { text: answer.text, passage_id: answer.passage_id, start: answer.start, end: answer.end }
    };
  }

  // ------------------------------------------------------------ small DOM helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(className, text) {
    var b = el('button', 'button button-quiet ' + className, text);
    b.type = 'button';
    return b;
  }

  function scrollIntoView(node, block) {
    node.scrollIntoView({ behavior: reduceMotion ? 'auto' : 'smooth', block: block || 'start' });
  }

  function formatMs(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '';
    if (ms < 1) return '<1 ms';
    return Math.round(ms) + ' ms';
  }

  function formatNumber(value, digits) {
    return typeof value === 'number' && isFinite(value) ? value.toFixed(digits === undefined ? 2 : digits) : '–';
  }

  // "p. 3" or "pp. 3–4" for a passage of a document with pages (a PDF), else ''.
  function pageLabel(p) {
    if (typeof p.page !== 'number') return '';
    if (typeof p.last_page === 'number' && p.last_page !== p.page) return 'pp.\u00a0' + p.page + '–' + p.last_page;
    return 'p.\u00a0' + p.page;
  }

  // "¶ 3", or "p. 3 · ¶ 3" with pages: a passage's place in its document, short enough never to wrap.
  function paragraphLabel(p) {
    var paragraph = '¶\u00a0' + (typeof p.index === 'number' ? p.index : '?');
    var page = pageLabel(p);
    return page ? page + '\u00a0·\u00a0' + paragraph : paragraph;
  }

  // A label as a screen reader should say it, and as copied text has it.
  function spokenLabel(label) {
    return label.replace(/\u00a0/g, ' ');
  }

  function passageById(data, id) {
    var passages = Array.isArray(data.passages) ? data.passages : [];
    for (var i = 0; i < passages.length; i++) {
      if (String(passages[i].id) === String(id)) return passages[i];
    }
    return null;
  }

  // ------------------------------------------------------------ how sure the answer is

  // Whether the answer reads as one ("Answer") or as the closest text ("Closest passage, may not
  // answer this"), from the pipeline's own signals, never a raw score: answer.confidence when the
  // API sends it; else a span of the asked-for kind found in the sentence, no question word the
  // documents lack, and for questions asking for no particular kind, the top passage holding
  // more than one of the question's words.
  function isConfident(data) {
    var answer = data.answer;
    if (data.intent === 'overview') return true;
    if (typeof answer.confidence === 'number' && isFinite(answer.confidence)) return answer.confidence >= CONFIDENT;
    if (Array.isArray(data.missing_words) && data.missing_words.length) return false;
    if (answer.span && typeof answer.span.text === 'string') return true;
    if (data.answer_type && data.answer_type !== 'other') return false;
    var cited = passageById(data, answer.passage_id);
    return !!cited && cited.rank === 1 && Array.isArray(cited.matched_terms) && cited.matched_terms.length >= 2;
  }

  // ------------------------------------------------------------ passage text with highlights

  // Code-point index of a UTF-16 index in `text` (the server counts code points).
  function codePointIndex(text, utf16Index) {
    return Array.from(text.slice(0, utf16Index)).length;
  }

  // Fills `container` with `chars` (code points): ranges in `highlights` in <mark>, the range
  // `answerRange` (or null) in .in-answer.
  function renderMarked(container, chars, highlights, answerRange) {
    var n = chars.length;
    var marked = new Uint8Array(n);
    var inAnswer = new Uint8Array(n);
    (Array.isArray(highlights) ? highlights : []).forEach(function (span) {
      if (!Array.isArray(span) || span.length < 2) return;
      var start = Math.max(0, Math.min(n, span[0] | 0));
      var end = Math.max(start, Math.min(n, span[1] | 0));
      for (var i = start; i < end; i++) marked[i] = 1;
    });
    if (answerRange) {
      for (var j = Math.max(0, answerRange[0]); j < answerRange[1] && j < n; j++) inAnswer[j] = 1;
    }
    var runStart = 0;
    for (var k = 1; k <= n; k++) {
      if (k < n && marked[k] === marked[runStart] && inAnswer[k] === inAnswer[runStart]) continue;
      var piece = chars.slice(runStart, k).join('');
      var node;
      if (marked[runStart]) {
        node = el('mark', inAnswer[runStart] ? 'in-answer' : '', piece);
      } else if (inAnswer[runStart]) {
        node = el('span', 'in-answer', piece);
      } else {
        node = document.createTextNode(piece);
      }
      container.appendChild(node);
      runStart = k;
    }
  }

  // The answer sentence's code-point range in the passage text, or null.
  function answerRangeIn(text, answer) {
    if (!answer || typeof answer.text !== 'string' || !answer.text) return null;
    var chars = Array.from(text);
    if (typeof answer.start === 'number' && chars.slice(answer.start, answer.start + Array.from(answer.text).length)
      .join('') === answer.text) {
      return [answer.start, answer.start + Array.from(answer.text).length];
    }
    var at = text.indexOf(answer.text);
    if (at < 0) return null;
    var start = codePointIndex(text, at);
    return [start, start + Array.from(answer.text).length];
  }

  // ------------------------------------------------------------ building turns

  function createTurn(question) {
    turnCount += 1;
    var turn = el('article', 'turn');
    turn.id = 'turn-' + turnCount;
    turn.setAttribute('aria-label', 'Question ' + turnCount);
    var bubble = el('div', 'question-bubble');
    bubble.appendChild(el('span', 'visually-hidden', 'You asked: '));
    bubble.appendChild(el('p', 'question-text', question));
    turn.appendChild(bubble);
    return turn;
  }

  function pendingIndicator() {
    var box = el('div', 'card pending');
    box.setAttribute('role', 'status');
    box.appendChild(el('span', 'pending-dots'));
    box.appendChild(el('span', 'pending-text', 'Searching…'));
    return box;
  }

  // "Why this passage?": its raw numbers and each question word's part of its score.
  function explainView(p, request) {
    var box = el('div', 'explain');
    var scores = p.scores && typeof p.scores === 'object' ? p.scores : {};
    var facts = el('p', 'explain-scores');
    var parts = ['order ' + formatNumber(p.score), 'BM25 ' + formatNumber(p.bm25)];
    if (typeof scores.weighted === 'number') parts.push('weighted words ' + formatNumber(scores.weighted));
    if (typeof scores.sentence === 'number') parts.push('best sentence ' + formatNumber(scores.sentence));
    if (typeof scores.semantic === 'number') parts.push('meaning (cosine) ' + formatNumber(scores.semantic));
    facts.textContent = 'Scores: ' + parts.join(' · ') + ' · id ' + String(p.id);
    box.appendChild(facts);
    var status = el('p', 'explain-status', 'Loading the explanation…');
    status.setAttribute('role', 'status');
    box.appendChild(status);
    fetchJson(EXPLAIN_URL, {
      question: request.question, history: request.history, passage_id: String(p.id)
    }).then(function (body) {
      if (!body || !Array.isArray(body.terms)) throw new Error('unreadable');
      status.textContent = body.terms.length
        ? 'Each question word’s part of the passage’s word score (' + formatNumber(body.total) + '):'
        : 'No word of the question is in this passage: it was found by meaning.';
      if (!body.terms.length) return;
      var table = el('table', 'explain-table');
      var head = el('tr');
      ['Word', 'Searched as', 'IDF', 'In passage', 'Weight', 'Adds'].forEach(function (name) {
        var th = el('th', '', name);
        th.scope = 'col';
        head.appendChild(th);
      });
      var thead = el('thead');
      thead.appendChild(head);
      table.appendChild(thead);
      var tbody = el('tbody');
      body.terms.forEach(function (row) {
        var tr = el('tr', row.frequency ? 'found' : 'absent');
        var word = String(row.word) + (row.turn === 'earlier' ? ' (earlier question)' :
          row.turn === 'answer' ? ' (last answer)' : '');
        var searched = String(row.term) + (row.by_meaning ? ' (nearest in meaning)' : '');
        [word, searched, formatNumber(row.idf), String(row.frequency) + '×', formatNumber(row.weight),
          formatNumber(row.contribution)].forEach(function (text, i) {
          var cell = el(i === 0 ? 'th' : 'td', '', text);
          if (i === 0) cell.scope = 'row';
          tr.appendChild(cell);
        });
        tbody.appendChild(tr);
      });
      table.appendChild(tbody);
      var wrap = el('div', 'explain-table-wrap');
      wrap.appendChild(table);
      box.appendChild(wrap);
    }).catch(function () {
      status.textContent = 'The explanation could not be loaded.';
    });
    return box;
  }

  function passageList(turnId, data, request, labelText) {
    var passages = Array.isArray(data.passages) ? data.passages : [];
    var answer = data.answer;
    var section = el('section', 'sources');
    var headingId = turnId + '-sources';
    var titles = [];
    passages.forEach(function (p) {
      var t = p.document_title || p.document || 'Untitled document';
      if (titles.indexOf(t) < 0) titles.push(t);
    });
    var heading = el('h3', 'sources-title', labelText + ' (' + passages.length + ')');
    heading.id = headingId;
    section.setAttribute('aria-labelledby', headingId);
    section.appendChild(heading);
    if (titles.length === 1) section.appendChild(el('p', 'sources-doc', 'from “' + titles[0] + '”'));

    var list = el('ol', 'passages');
    var citedIndex = -1;
    var lastTitle = null;
    passages.forEach(function (p, i) {
      var id = String(p.id);
      var text = typeof p.text === 'string' ? p.text : '';
      var title = p.document_title || p.document || 'Untitled document';
      var isCited = !!answer && String(answer.passage_id) === id && citedIndex === -1;
      if (isCited) citedIndex = i;

      var item = el('li', 'passage-item');
      if (titles.length > 1 && title !== lastTitle) item.appendChild(el('p', 'passage-doc', title));
      lastTitle = title;
      var details = el('details', 'passage' + (isCited ? ' cited' : ''));
      details.id = turnId + '-passage-' + i;
      details.setAttribute('data-passage-id', id);

      var summary = el('summary', 'passage-summary');
      summary.appendChild(el('span', 'passage-label', paragraphLabel(p)));
      // its first line, not counting a line that only repeats the document's title
      var lines = text.split('\n').map(function (line) { return line.trim(); }).filter(function (line) {
        return line && line !== title;
      });
      var firstLine = lines[0] || text.trim();
      summary.appendChild(el('span', 'passage-first-line', firstLine));
      if (isCited) summary.appendChild(el('span', 'passage-badge', 'cited'));
      if (Array.isArray(p.matched_terms) && p.matched_terms.length === 0 && data.intent !== 'overview') {
        // shares no word with the question: listed because its meaning is close
        summary.appendChild(el('span', 'passage-badge by-meaning', 'found by meaning'));
      }
      details.appendChild(summary);

      var body = el('p', 'passage-text');
      renderMarked(body, Array.from(text), p.highlights, isCited ? answerRangeIn(text, answer) : null);
      details.appendChild(body);

      var tools = el('div', 'passage-tools');
      var open = button('open-document', 'Read it in the document');
      open.addEventListener('click', function () {
        openDocument(p.document, id, isCited ? answer : null, open, p);
      });
      tools.appendChild(open);
      if (data.intent !== 'overview') {
        var why = button('why', 'Why this passage?');
        var explainId = details.id + '-why';
        why.setAttribute('aria-expanded', 'false');
        why.setAttribute('aria-controls', explainId);
        var view = null;
        why.addEventListener('click', function () {
          if (!view) {
            view = explainView(p, request);
            view.id = explainId;
            details.appendChild(view);
          } else {
            view.hidden = !view.hidden;
          }
          why.setAttribute('aria-expanded', view.hidden ? 'false' : 'true');
        });
        tools.appendChild(why);
      }
      details.appendChild(tools);

      item.appendChild(details);
      list.appendChild(item);
    });
    section.appendChild(list);
    return { section: section, citedIndex: citedIndex };
  }

  // The answer sentence, with the exact span the API found (if any) emphasised inside it.
  // Offsets are Unicode code points in the passage; the sentence starts at answer.start.
  function answerText(answer) {
    var p = el('p', 'answer-text');
    var chars = Array.from(String(answer.text));
    var span = answer.span;
    var from = span && typeof span.start === 'number' ? span.start - answer.start : -1;
    var to = span && typeof span.end === 'number' ? span.end - answer.start : -1;
    if (!span || from < 0 || to > chars.length || to <= from || chars.slice(from, to).join('') !== span.text) {
      p.textContent = chars.join('');
      return p;
    }
    p.appendChild(document.createTextNode(chars.slice(0, from).join('')));
    var strong = el('strong', 'answer-span', span.text);
    strong.title = 'the exact answer (' + String(span.type) + ')';
    p.appendChild(strong);
    p.appendChild(document.createTextNode(chars.slice(to).join('')));
    return p;
  }

  // "Read as a follow-up to: …" with a one-click way to ask the question on its own.
  function followUpNote(data, request) {
    var context = Array.isArray(data.context) ? data.context : [];
    if (!data.follow_up || !context.length) return null;
    var note = el('div', 'follow-up-note');
    var text = el('p', 'follow-up-text');
    text.appendChild(document.createTextNode('Read as a follow-up to: '));
    text.appendChild(el('q', 'follow-up-context', context[0]));
    note.appendChild(text);
    var alone = button('ask-alone', 'Ask on its own');
    alone.title = 'Ask it again without the earlier questions';
    alone.addEventListener('click', function () {
      if (pending) return;
      ask(request.question, { standalone: true });
      input.focus();
    });
    note.appendChild(alone);
    return note;
  }

  function copyText(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) return navigator.clipboard.writeText(text);
    return new Promise(function (resolve, reject) {
      var area = el('textarea', 'visually-hidden');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      area.remove();
      if (ok) resolve(); else reject(new Error('copy failed'));
    });
  }

  // Copy the answer, a link that asks the question again, and how long it took.
  function footer(data, request, copied) {
    var foot = el('div', 'card-footer');
    if (copied) {
      var copy = button('copy', 'Copy answer');
      var said = el('span', 'copy-status');
      said.setAttribute('role', 'status');
      copy.addEventListener('click', function () {
        copyText(copied).then(function () { said.textContent = 'Copied'; },
          function () { said.textContent = 'Could not copy'; });
      });
      foot.appendChild(copy);
      foot.appendChild(said);
    }
    var link = el('a', 'ask-link', 'Link to this question');
    link.href = '/?q=' + encodeURIComponent(request.question);
    foot.appendChild(link);
    var took = formatMs(data.took_ms);
    if (took) foot.appendChild(el('span', 'took', took));
    return foot;
  }

  function citationLabel(data) {
    var cited = passageById(data, data.answer.passage_id);
    return cited ? paragraphLabel(cited) : String(data.answer.passage_id);
  }

  function answerCard(turnId, data, request) {
    var answer = data.answer;
    var overview = data.intent === 'overview';
    var sure = isConfident(data);
    var card = el('section', 'card answer' + (sure ? '' : ' hedged') + (overview ? ' overview' : ''));
    var label = overview ? 'About the document' : sure ? 'Answer' : 'Closest passage, may not answer this';
    card.setAttribute('aria-label', label);
    var note = followUpNote(data, request);
    if (note) card.appendChild(note);
    card.appendChild(el('p', 'card-label confidence', label));
    var cited = passageById(data, answer.passage_id);
    if (overview && cited) {
      card.appendChild(el('p', 'overview-title', 'How “' + (cited.document_title || cited.document) + '” begins:'));
    }
    card.appendChild(answerText(answer));

    var source = el('p', 'answer-source');
    source.appendChild(document.createTextNode('Source: '));
    var citeText = citationLabel(data);
    var list = Array.isArray(data.passages) && data.passages.length
      ? passageList(turnId, data, request, overview ? 'Source' : 'Sources') : null;
    if (cited) {
      var link = el('a', 'citation', citeText);
      link.href = '#' + turnId + '-passage-' + (list ? list.citedIndex : 0);
      link.title = 'Open the document at this passage';
      link.addEventListener('click', function (event) {
        event.preventDefault();
        openDocument(cited.document, String(cited.id), answer, link, cited);
      });
      source.appendChild(link);
    } else {
      source.appendChild(el('span', 'citation', citeText));
    }
    card.appendChild(source);
    if (list) card.appendChild(list.section);
    var quote = answer.text + (cited ? '\n— “' + (cited.document_title || cited.document) + '”, ' +
      spokenLabel(citeText) : '');
    card.appendChild(footer(data, request, quote));
    return card;
  }

  function notFoundCard(turnId, data, request) {
    var passages = Array.isArray(data.passages) ? data.passages : [];
    var card = el('section', 'card not-found');
    card.setAttribute('aria-label', 'Not in the document');
    var note = followUpNote(data, request);
    if (note) card.appendChild(note);
    card.appendChild(el('p', 'card-label', 'Not in the document'));
    card.appendChild(el('p', 'message', data.message || 'The document does not seem to answer this.'));
    if (passages.length) card.appendChild(passageList(turnId, data, request, 'Closest passages').section);
    card.appendChild(footer(data, request, null));
    return card;
  }

  // Greetings, thanks, "what can you do?": a kind reply, no sources.
  function replyCard(data) {
    var card = el('section', 'card reply');
    card.setAttribute('aria-label', 'Reply');
    card.appendChild(el('p', 'card-label', 'qa-service'));
    card.appendChild(el('p', 'message', data.message || 'Hello! Ask a question about the document.'));
    return card;
  }

  function errorCard(message, question, turn, options) {
    var card = el('section', 'card error');
    card.setAttribute('aria-label', 'Error');
    card.appendChild(el('p', 'card-label', 'Something went wrong'));
    card.appendChild(el('p', 'message', message));
    var retry = el('button', 'button button-quiet retry', 'Try again');
    retry.type = 'button';
    retry.addEventListener('click', function () {
      if (pending) return;
      turn.remove();
      ask(question, options);
      input.focus();
    });
    card.appendChild(retry);
    return card;
  }

  function cardFor(turnId, data, request) {
    var found = data.answer && typeof data.answer === 'object' && typeof data.answer.text === 'string';
    if (found) return answerCard(turnId, data, request);
    if (data.intent && data.intent !== 'overview') return replyCard(data);
    return notFoundCard(turnId, data, request);
  }

  // ------------------------------------------------------------ the document view

  function fetchJson(url, body) {
    var options = body === undefined ? { headers: { 'Accept': 'application/json' }, credentials: 'same-origin' } : {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin'
    };
    return fetch(url, options).then(function (response) {
      if (!response.ok) throw new Error('HTTP ' + response.status);
      return response.json();
    });
  }

  function loadDocument(id) {
    if (!documents[id]) {
      documents[id] = fetchJson(DOCUMENT_URL + encodeURIComponent(id)).catch(function (error) {
        delete documents[id];
        throw error;
      });
    }
    return documents[id];
  }

  // Opens the whole document, scrolled to the passage, which is highlighted (and the answer
  // sentence in it marked). `known` is the passage as the answer gave it (its page, if any).
  function openDocument(docId, passageId, answer, opener, known) {
    docOpener = opener || null;
    docTitle.textContent = 'Loading the document…';
    docBody.textContent = '';
    if (!docView.open) docView.showModal();
    loadDocument(String(docId)).then(function (doc) {
      docTitle.textContent = doc.title || doc.id;
      var chars = Array.from(String(doc.text));
      var at = 0;
      var target = null;
      (Array.isArray(doc.passages) ? doc.passages : []).forEach(function (p) {
        var gap = chars.slice(at, p.start).join('').trim();
        if (gap) docBody.appendChild(el('p', 'doc-gap', gap)); // text between passages (rare): shown as is
        var here = String(p.id) === String(passageId);
        if (here && known && typeof p.page !== 'number' && typeof known.page === 'number') {
          p = { id: p.id, index: p.index, start: p.start, end: p.end, page: known.page, last_page: known.last_page };
        }
        var piece = el('p', 'doc-passage' + (here ? ' current' : ''));
        piece.setAttribute('data-passage-id', String(p.id));
        piece.appendChild(el('span', 'doc-label', paragraphLabel(p) + ' '));
        var text = chars.slice(p.start, p.end);
        renderMarked(piece, text, [], here ? answerRangeIn(text.join(''), answer) : null);
        if (here) {
          piece.tabIndex = -1;
          piece.setAttribute('aria-label', 'Cited passage ' + spokenLabel(paragraphLabel(p)));
          target = piece;
        }
        docBody.appendChild(piece);
        at = Math.max(at, p.end);
      });
      var rest = chars.slice(at).join('').trim();
      if (rest) docBody.appendChild(el('p', 'doc-gap', rest));
      if (target) {
        target.scrollIntoView({ block: 'center' });
        target.focus({ preventScroll: true });
      }
    }).catch(function () {
      docTitle.textContent = 'The document could not be loaded';
      docBody.textContent = 'Try again in a moment.';
    });
  }

  docClose.addEventListener('click', function () { docView.close(); });
  docView.addEventListener('click', function (event) {
    if (event.target === docView) docView.close(); // a click on the backdrop
  });
  docView.addEventListener('close', function () {
    if (docOpener && document.contains(docOpener)) docOpener.focus();
    docOpener = null;
  });

  // ------------------------------------------------------------ keeping the conversation

  function save() {
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify({ version: 1, turns: stored.slice(-MAX_STORED) }));
    } catch (e) {
      // storage full or off (private mode): the conversation still works, it is just not kept
    }
  }

  function forget() {
    try { window.localStorage.removeItem(STORE_KEY); } catch (e) { /* nothing kept anyway */ }
  }

  function restore() {
    var kept = null;
    try { kept = JSON.parse(window.localStorage.getItem(STORE_KEY) || 'null'); } catch (e) { kept = null; }
    if (!kept || kept.version !== 1 || !Array.isArray(kept.turns)) return;
    kept.turns.forEach(function (t) {
      if (!t || typeof t.question !== 'string' || !t.data || typeof t.data !== 'object') return;
      var request = { question: t.question, history: Array.isArray(t.sent) ? t.sent : [] };
      var turn = createTurn(t.question);
      try {
        turn.appendChild(cardFor(turn.id, t.data, request));
      } catch (e) {
        return; // a turn kept by an older page that this one cannot show
      }
      thread.appendChild(turn);
      stored.push(t);
      remember(t.question, t.data);
    });
    if (stored.length) intro.hidden = true;
  }

  function remember(question, data) {
    if (data.intent && data.intent !== 'overview') return; // small talk is not part of what a follow-up leans on
    var found = data.answer && typeof data.answer === 'object' && typeof data.answer.text === 'string';
    history.push(exchange(question, found ? data.answer : null));
    if (history.length > HISTORY_SENT) history = history.slice(-HISTORY_SENT);
  }

  // ------------------------------------------------------------ talking to the server

  function errorMessage(status, body) {
    if (body && body.error && typeof body.error.message === 'string' && body.error.message) {
      return body.error.message;
    }
    if (status >= 500) return 'The server ran into a problem (HTTP ' + status + '). Try again in a moment.';
    return 'The question could not be answered (HTTP ' + status + ').';
  }

  // Asks a question; options.standalone sends no earlier exchanges.
  function ask(question, options) {
    options = options || {};
    question = question.trim();
    if (!question || pending) return;
    if (question.length > MAX_LENGTH) question = question.slice(0, MAX_LENGTH);

    var turn = createTurn(question);
    var indicator = pendingIndicator();
    turn.appendChild(indicator);
    turn.setAttribute('aria-busy', 'true');
    thread.appendChild(turn);
    intro.hidden = true;

    var controller = window.AbortController ? new AbortController() : null;
    var request = { controller: controller, timedOut: false, turn: turn };
    pending = request;
    updateControls();
    scrollIntoView(turn, 'start');
    var timer = controller ? setTimeout(function () {
      request.timedOut = true;
      controller.abort();
    }, TIMEOUT_MS) : null;

    var sentHistory = options.standalone ? [] : history.slice(-HISTORY_SENT);
    fetch(API_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify({ question: question, top_k: TOP_K, history: sentHistory }),
      signal: controller ? controller.signal : undefined,
      credentials: 'same-origin'
    }).then(function (response) {
      return response.json().then(
        function (body) { return { response: response, body: body }; },
        function () { return { response: response, body: null }; }
      );
    }, function () {
      return { failed: true }; // no HTTP response at all: server down, offline, or timed out
    }).then(function (result) {
      if (pending !== request) return; // the conversation was cleared meanwhile
      var card;
      if (result.failed) {
        card = errorCard(request.timedOut ? TIMEOUT_ERROR : NETWORK_ERROR, question, turn, options);
      } else if (!result.response.ok) {
        card = errorCard(errorMessage(result.response.status, result.body), question, turn, options);
      } else if (!result.body || typeof result.body !== 'object') {
        card = errorCard('The server sent an answer that could not be read. Try again.', question, turn, options);
      } else {
        var data = result.body;
        card = cardFor(turn.id, data, { question: question, history: sentHistory });
        remember(question, data);
        stored.push({ question: question, data: data, sent: sentHistory });
        if (stored.length > MAX_STORED) stored = stored.slice(-MAX_STORED);
        save();
      }
      finish(request, card);
    }).catch(function () {
      if (pending !== request) return;
      finish(request, errorCard('The answer could not be shown. Try again.', question, turn, options));
    }).then(function () {
      if (timer) clearTimeout(timer);
    });
  }

  function finish(request, card) {
    var turn = request.turn;
    var indicator = turn.querySelector('.pending');
    if (indicator) indicator.remove();
    turn.appendChild(card);
    turn.removeAttribute('aria-busy');
    pending = null;
    updateControls();
    scrollIntoView(turn, 'start');
  }

  // ------------------------------------------------------------ the form

  function canSend() {
    return !pending && input.value.trim().length > 0;
  }

  function updateControls() {
    sendButton.disabled = !canSend();
    form.setAttribute('aria-busy', pending ? 'true' : 'false');
    var length = input.value.length;
    if (length >= MAX_LENGTH * 0.8) {
      charCount.hidden = false;
      charCount.textContent = length + ' / ' + MAX_LENGTH;
      charCount.classList.toggle('at-limit', length >= MAX_LENGTH);
    } else if (!charCount.hidden) {
      charCount.hidden = true;
      charCount.textContent = '';
    }
    if (autoSize) {
      var lines = input.value.split('\n').length;
      input.rows = Math.max(1, Math.min(6, lines));
    }
  }

  function submit() {
    if (!canSend()) return;
    var question = input.value;
    input.value = '';
    updateControls();
    ask(question);
    input.focus();
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    submit();
  });

  input.addEventListener('input', updateControls);

  input.addEventListener('keydown', function (event) {
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submit();
  });

  newButton.addEventListener('click', function () {
    if (pending) {
      var request = pending;
      pending = null;
      if (request.controller) request.controller.abort();
    }
    history = [];
    stored = [];
    forget();
    thread.textContent = '';
    intro.hidden = false;
    input.value = '';
    updateControls();
    window.scrollTo({ top: 0, behavior: reduceMotion ? 'auto' : 'smooth' });
    input.focus();
  });

  Array.prototype.forEach.call(document.querySelectorAll('.example'), function (example) {
    example.addEventListener('click', function () {
      if (pending) return;
      ask(example.textContent);
      input.focus();
    });
  });

  // ------------------------------------------------------------ adding and removing documents

  // The header's title and "Answers come from …" line, as the server renders them, for the
  // documents as they are now; the kept conversation follows the title it is filed under.
  function showCorpus(docs) {
    var titles = docs.map(function (d) { return String(d.title || d.id); });
    var heading = document.querySelector('.site-title');
    var title = titles.length === 1 ? titles[0] : titles.length + ' documents';
    if (heading && heading.textContent !== title) {
      heading.textContent = title;
      document.title = title + ' · qa-service';
      var key = STORE_PREFIX + title;
      if (key !== STORE_KEY) {
        forget();
        STORE_KEY = key;
        if (stored.length) save();
      }
    }
    var introTitle = document.getElementById('intro-title');
    if (introTitle) {
      introTitle.textContent = 'Ask a question about the ' + (titles.length > 1 ? 'documents' : 'document');
    }
    var old = document.querySelector('.site-header .documents-line, .site-header details.documents');
    var line;
    if (titles.length > 3) {
      line = el('details', 'documents');
      line.appendChild(el('summary', '', 'Answers come from ' + titles.length + ' documents'));
      var list = el('ul', 'documents-list');
      titles.forEach(function (t) { list.appendChild(el('li', 'document-name', t)); });
      line.appendChild(list);
      if (old && old.tagName === 'DETAILS' && old.open) line.open = true;
    } else if (titles.length === 1 && titles[0] === title) {
      line = el('p', 'documents-line', 'Answers come from this document only.');
    } else {
      line = el('p', 'documents-line');
      line.appendChild(document.createTextNode('Answers come from '));
      titles.forEach(function (t, i) {
        line.appendChild(el('span', 'document-name', t));
        if (i < titles.length - 2) line.appendChild(document.createTextNode(', '));
        else if (i === titles.length - 2) line.appendChild(document.createTextNode(' and '));
      });
      line.appendChild(document.createTextNode('.'));
    }
    if (old) old.replaceWith(line);
    else if (heading) heading.after(line);
  }

  function setupLibrary(panel) {
    var MAX_FILES = parseInt(panel.getAttribute('data-max-files'), 10) || 0;
    var MAX_BYTES = parseInt(panel.getAttribute('data-max-bytes'), 10) || 0;
    var CONFIRM_MS = 5000;
    var KINDS = { pdf: 'PDF', docx: 'Word', html: 'HTML', markdown: 'Markdown', text: 'Text' };
    var picker = document.getElementById('upload-input');
    var zone = document.getElementById('drop-zone');
    var progressRow = document.getElementById('upload-progress-row');
    var progress = document.getElementById('upload-progress');
    var progressLabel = document.getElementById('upload-progress-label');
    var uploadStatus = document.getElementById('upload-status');
    var list = document.getElementById('library-list');
    var listTitle = document.getElementById('library-list-title');
    var listStatus = document.getElementById('library-status');
    var uploading = false;
    var dragDepth = 0;
    var refreshing = Promise.resolve();

    function say(node, text, state) {
      node.textContent = text;
      node.setAttribute('data-state', state);
    }

    function plural(n, one, many) {
      return n + ' ' + (n === 1 ? one : many);
    }

    function mib(bytes) {
      return (bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) ? 1 : 0).replace(/\.0$/, '') + ' MiB';
    }

    function errorOf(status, body, doing) {
      if (body && body.error && typeof body.error.message === 'string' && body.error.message) {
        return body.error.message;
      }
      return 'The server could not ' + doing + ' (HTTP ' + status + ').';
    }

    function item(doc, removable) {
      var li = el('li', 'library-item');
      li.setAttribute('data-document-id', String(doc.id));
      var text = el('div', 'library-item-text');
      var title = String(doc.title || doc.id);
      text.appendChild(el('p', 'library-title', title));
      var facts = [];
      if (doc.source) facts.push(String(doc.source));
      if (doc.kind) facts.push(KINDS[doc.kind] || String(doc.kind));
      if (typeof doc.pages === 'number') facts.push(plural(doc.pages, 'page', 'pages'));
      if (typeof doc.passages === 'number') facts.push(plural(doc.passages, 'passage', 'passages'));
      text.appendChild(el('p', 'library-meta', facts.join(' · ')));
      li.appendChild(text);
      if (removable) li.appendChild(removeButton(doc, title));
      return li;
    }

    // "Remove", then "Confirm remove" for a few seconds: a second press removes the document.
    function removeButton(doc, title) {
      var b = button('remove', '');
      var label = el('span', 'remove-label', 'Remove');
      b.appendChild(label);
      b.appendChild(el('span', 'visually-hidden', ' “' + title + '”'));
      var timer = null;
      function disarm() {
        clearTimeout(timer);
        timer = null;
        b.classList.remove('armed');
        label.textContent = 'Remove';
      }
      b.addEventListener('click', function () {
        if (b.getAttribute('aria-disabled') === 'true') return;
        if (!timer) {
          b.classList.add('armed');
          label.textContent = 'Confirm remove';
          say(listStatus, 'Press “Confirm remove” again to remove “' + title + '”.', 'confirm');
          timer = setTimeout(function () {
            disarm();
            if (listStatus.getAttribute('data-state') === 'confirm') say(listStatus, '', 'idle');
          }, CONFIRM_MS);
          return;
        }
        disarm();
        b.setAttribute('aria-disabled', 'true');
        label.textContent = 'Removing…';
        say(listStatus, 'Removing “' + title + '”…', 'busy');
        removeDocument(doc, title, b, label);
      });
      return b;
    }

    function removeDocument(doc, title, b, label) {
      var li = b.closest('li');
      fetch(DOCUMENT_URL + encodeURIComponent(String(doc.id)), {
        method: 'DELETE', headers: { 'Accept': 'application/json' }, credentials: 'same-origin'
      }).then(function (response) {
        return response.json().then(function (body) { return { response: response, body: body }; },
          function () { return { response: response, body: null }; });
      }).then(function (result) {
        if (!result.response.ok) throw { told: errorOf(result.response.status, result.body, 'remove it') };
        delete documents[String(doc.id)];
        var removed = result.body && result.body.removed ? result.body.removed : doc;
        say(listStatus, 'Removed “' + (removed.title || title) + '”' +
          (removed.source ? ' (' + removed.source + ')' : '') + '.', 'done');
        // focus goes to the next document's button, else the previous one's, else the list's title
        var next = li && (li.nextElementSibling || li.previousElementSibling);
        var nextId = next ? next.getAttribute('data-document-id') : null;
        return refresh().then(function () {
          var target = nextId && list.querySelector('li[data-document-id="' + CSS.escape(nextId) + '"] .remove');
          (target || listTitle).focus();
        });
      }).catch(function (error) {
        say(listStatus, error && error.told ? error.told : NETWORK_ERROR, 'error');
        b.removeAttribute('aria-disabled');
        label.textContent = 'Remove';
      });
    }

    // The list and the header, from GET /api/documents (one load after another, so the last
    // change asked for is the one shown).
    function refresh() {
      refreshing = refreshing.then(load);
      return refreshing;
    }

    function load() {
      return fetchJson(DOCUMENT_URL.replace(/\/$/, '')).then(function (body) {
        var docs = body && Array.isArray(body.documents) ? body.documents : [];
        list.textContent = '';
        docs.forEach(function (doc) { list.appendChild(item(doc, docs.length > 1)); });
        if (docs.length === 1) {
          list.appendChild(el('li', 'library-note', 'The last document cannot be removed: add another first.'));
        }
        showCorpus(docs);
      }).catch(function () {
        say(listStatus, 'The list of documents could not be loaded. Reload the page to try again.', 'error');
      });
    }

    // The files, checked against the server's limits before anything is sent.
    function tooMany(files) {
      if (!files.length) return 'No files to add.';
      if (MAX_FILES && files.length > MAX_FILES) {
        return plural(files.length, 'file', 'files') + ' chosen: at most ' + MAX_FILES + ' can be added at a time.';
      }
      for (var i = 0; i < files.length; i++) {
        if (MAX_BYTES && files[i].size > MAX_BYTES) {
          return files[i].name + ' is larger than ' + mib(MAX_BYTES) + ', the most one file may be.';
        }
      }
      return '';
    }

    function upload(fileList) {
      var files = Array.prototype.slice.call(fileList || []);
      if (uploading) {
        say(uploadStatus, 'Wait until the files being added are in, then add more.', 'error');
        return;
      }
      var refused = tooMany(files);
      if (refused) {
        say(uploadStatus, refused, 'error');
        return;
      }
      var names = files.map(function (f) { return f.name; }).join(', ');
      var data = new FormData();
      files.forEach(function (f) { data.append('files', f, f.name); });
      uploading = true;
      picker.disabled = true;
      zone.classList.add('busy');
      progressRow.hidden = false;
      progressLabel.textContent = 'Sending ' + names;
      progress.value = 0;
      say(uploadStatus, 'Sending ' + names + '…', 'busy');

      var xhr = new XMLHttpRequest();
      xhr.open('POST', DOCUMENT_URL.replace(/\/$/, ''));
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.responseType = 'text';
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable && event.total) progress.value = Math.round(100 * event.loaded / event.total);
      };
      xhr.upload.onload = function () {
        progress.removeAttribute('value'); // sent: the server reads the files now, for an unknown time
        progressLabel.textContent = 'Reading ' + names;
        say(uploadStatus, 'Reading ' + names + ' into the documents…', 'busy');
      };
      function done(text, state) {
        uploading = false;
        picker.disabled = false;
        picker.value = '';
        zone.classList.remove('busy');
        progressRow.hidden = true;
        say(uploadStatus, text, state);
      }
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status !== 201 || !body || !Array.isArray(body.documents)) {
          done(errorOf(xhr.status, body, 'add ' + names), 'error');
          return;
        }
        var parts = body.documents.map(function (d) {
          delete documents[String(d.id)];
          var count = Array.isArray(d.passages) ? d.passages.length : Number(d.passages) || 0;
          return plural(count, 'passage', 'passages') + ' from ' + (d.source || d.title || d.id);
        });
        done(parts.join('; ') + '.', 'done');
        refresh();
      };
      xhr.onerror = function () { done(NETWORK_ERROR, 'error'); };
      xhr.send(data);
    }

    picker.addEventListener('change', function () {
      if (picker.files && picker.files.length) upload(picker.files);
    });

    function hasFiles(event) {
      var types = event.dataTransfer && event.dataTransfer.types;
      return !!types && Array.prototype.indexOf.call(types, 'Files') >= 0;
    }

    // Files dragged anywhere over the page open the panel and light up the zone; dropped
    // anywhere, they are added.
    document.addEventListener('dragenter', function (event) {
      if (!hasFiles(event)) return;
      dragDepth += 1;
      panel.open = true;
      zone.classList.add('dragging');
    });
    document.addEventListener('dragover', function (event) {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    });
    document.addEventListener('dragleave', function (event) {
      if (!hasFiles(event)) return;
      dragDepth = Math.max(0, dragDepth - 1);
      if (!dragDepth) zone.classList.remove('dragging');
    });
    document.addEventListener('drop', function (event) {
      if (!hasFiles(event)) return;
      event.preventDefault(); // not the browser's own "open the file"
      dragDepth = 0;
      zone.classList.remove('dragging');
      panel.open = true;
      upload(event.dataTransfer.files);
    });

    refresh();
  }

  var library = document.getElementById('library');
  if (library) setupLibrary(library);

  restore();
  updateControls();

  // /?q=...: a link that asks its question (on its own: the link carries no conversation).
  var linked = new URLSearchParams(window.location.search).get('q');
  if (linked && linked.trim()) {
    window.history.replaceState(null, '', window.location.pathname); // a reload does not ask it again
    ask(linked, { standalone: true });
  } else if (stored.length) {
    scrollIntoView(thread.lastElementChild, 'start');
  }
})();
