// Chat page of qa-service. No framework, no build step. Every piece of text from the
// user or the server goes into the page through textContent / text nodes, never as HTML.
(function () {
  'use strict';

  var API_URL = '/api/ask';
  var TOP_K = 3;
  var MAX_LENGTH = 1000;
  var TIMEOUT_MS = 60000;
  var HISTORY_SENT = 5;       // earlier exchanges sent with a question (the server leans on the last 3 by default)
  var MAX_ANSWER_SENT = 1500; // longer answers go back as the question alone (the body stays well under 64 KiB)
  var NETWORK_ERROR = 'Could not reach the server. Check that it is running and try again.';
  var TIMEOUT_ERROR = 'The server took too long to answer. Try again in a moment.';

  var form = document.getElementById('ask-form');
  var input = document.getElementById('question');
  var sendButton = document.getElementById('send');
  var newButton = document.getElementById('new-conversation');
  var thread = document.getElementById('thread');
  var intro = document.getElementById('intro');
  var charCount = document.getElementById('char-count');

  var history = [];        // exchanges of successful turns, oldest first: {question, answer}
  var pending = null;      // {controller, timedOut} while a request is in flight
  var turnCount = 0;       // makes element ids unique within the page
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

  function scrollIntoView(node, block) {
    node.scrollIntoView({ behavior: reduceMotion ? 'auto' : 'smooth', block: block || 'start' });
  }

  function formatMs(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '';
    if (ms < 1) return '<1 ms';
    return Math.round(ms) + ' ms';
  }

  function formatScore(score) {
    return typeof score === 'number' && isFinite(score) ? score.toFixed(2) : '–';
  }

  // ------------------------------------------------------------ passage text with highlights

  // Code-point index of a UTF-16 index in `text` (the server counts code points).
  function codePointIndex(text, utf16Index) {
    return Array.from(text.slice(0, utf16Index)).length;
  }

  // Fills `container` with the passage text: matched terms in <mark>, the answer sentence
  // (code-point range `answerRange`, or null) in .in-answer. Offsets are code points.
  function renderPassageText(container, text, highlights, answerRange) {
    var chars = Array.from(text);
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
      for (var j = answerRange[0]; j < answerRange[1] && j < n; j++) inAnswer[j] = 1;
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

  function passageList(turnId, passages, answer, labelText) {
    var section = el('section', 'sources');
    var headingId = turnId + '-sources';
    var heading = el('h3', 'sources-title', labelText + ' (' + passages.length + ')');
    heading.id = headingId;
    section.setAttribute('aria-labelledby', headingId);
    section.appendChild(heading);

    var list = el('ol', 'passages');
    var citedIndex = -1;
    passages.forEach(function (p, i) {
      var id = String(p.id);
      var text = typeof p.text === 'string' ? p.text : '';
      var isCited = !!answer && String(answer.passage_id) === id && citedIndex === -1;
      if (isCited) citedIndex = i;

      var item = el('li', 'passage-item');
      var details = el('details', 'passage' + (isCited ? ' cited' : ''));
      details.id = turnId + '-passage-' + i;
      details.setAttribute('data-passage-id', id);
      if (isCited) details.open = true;

      var summary = el('summary', 'passage-summary');
      summary.appendChild(el('span', 'passage-doc', p.document_title || p.document || 'Untitled document'));
      var meta = el('span', 'passage-meta');
      meta.appendChild(el('span', 'passage-id', id));
      meta.appendChild(el('span', 'passage-score', 'score ' + formatScore(p.score)));
      if (isCited) meta.appendChild(el('span', 'passage-badge', 'cited'));
      if (Array.isArray(p.matched_terms) && p.matched_terms.length === 0) {
        // shares no word with the question: listed because its meaning is close
        meta.appendChild(el('span', 'passage-badge by-meaning', 'found by meaning'));
      }
      summary.appendChild(meta);
      details.appendChild(summary);

      var answerRange = null;
      if (isCited && typeof answer.text === 'string' && answer.text) {
        var at = text.indexOf(answer.text);
        if (at >= 0) {
          var start = codePointIndex(text, at);
          answerRange = [start, start + Array.from(answer.text).length];
        }
      }
      var body = el('p', 'passage-text');
      renderPassageText(body, text, p.highlights, answerRange);
      details.appendChild(body);

      item.appendChild(details);
      list.appendChild(item);
    });
    section.appendChild(list);
    return { section: section, citedIndex: citedIndex };
  }

  function showPassage(details) {
    details.open = true;
    details.classList.remove('flash');
    void details.offsetWidth; // restart the animation
    details.classList.add('flash');
    scrollIntoView(details, 'nearest');
    details.querySelector('summary').focus({ preventScroll: true });
  }

  function footer(data) {
    var took = formatMs(data.took_ms);
    if (!took) return null;
    var foot = el('p', 'card-footer');
    foot.appendChild(el('span', 'took', took));
    return foot;
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

  function answerCard(turnId, data) {
    var answer = data.answer;
    var passages = Array.isArray(data.passages) ? data.passages : [];
    var card = el('section', 'card answer');
    card.setAttribute('aria-label', 'Answer');
    card.appendChild(el('p', 'card-label', 'Answer'));
    card.appendChild(answerText(answer));

    var list = passages.length ? passageList(turnId, passages, answer, 'Sources') : null;
    var source = el('p', 'answer-source');
    source.appendChild(document.createTextNode('Source '));
    var citeText = '[' + String(answer.passage_id) + ']';
    if (list && list.citedIndex >= 0) {
      var targetId = turnId + '-passage-' + list.citedIndex;
      var link = el('a', 'citation', citeText);
      link.href = '#' + targetId;
      link.setAttribute('aria-label', 'Show source passage ' + String(answer.passage_id));
      link.addEventListener('click', function (event) {
        event.preventDefault();
        var target = document.getElementById(targetId);
        if (target) showPassage(target);
      });
      source.appendChild(link);
    } else {
      source.appendChild(el('span', 'citation', citeText));
    }
    card.appendChild(source);
    if (list) card.appendChild(list.section);
    var foot = footer(data);
    if (foot) card.appendChild(foot);
    return card;
  }

  function notFoundCard(turnId, data) {
    var passages = Array.isArray(data.passages) ? data.passages : [];
    var card = el('section', 'card not-found');
    card.setAttribute('aria-label', 'Not in the document');
    card.appendChild(el('p', 'card-label', 'Not in the document'));
    card.appendChild(el('p', 'message', data.message || 'The document does not seem to answer this.'));
    if (passages.length) card.appendChild(passageList(turnId, passages, null, 'Closest passages').section);
    var foot = footer(data);
    if (foot) card.appendChild(foot);
    return card;
  }

  function errorCard(message, question, turn) {
    var card = el('section', 'card error');
    card.setAttribute('aria-label', 'Error');
    card.appendChild(el('p', 'card-label', 'Something went wrong'));
    card.appendChild(el('p', 'message', message));
    var retry = el('button', 'button button-quiet retry', 'Try again');
    retry.type = 'button';
    retry.addEventListener('click', function () {
      if (pending) return;
      turn.remove();
      ask(question);
      input.focus();
    });
    card.appendChild(retry);
    return card;
  }

  // ------------------------------------------------------------ talking to the server

  function errorMessage(status, body) {
    if (body && body.error && typeof body.error.message === 'string' && body.error.message) {
      return body.error.message;
    }
    if (status >= 500) return 'The server ran into a problem (HTTP ' + status + '). Try again in a moment.';
    return 'The question could not be answered (HTTP ' + status + ').';
  }

  function ask(question) {
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

    var sentHistory = history.slice(-HISTORY_SENT);
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
        card = errorCard(request.timedOut ? TIMEOUT_ERROR : NETWORK_ERROR, question, turn);
      } else if (!result.response.ok) {
        card = errorCard(errorMessage(result.response.status, result.body), question, turn);
      } else if (!result.body || typeof result.body !== 'object') {
        card = errorCard('The server sent an answer that could not be read. Try again.', question, turn);
      } else {
        var data = result.body;
        var found = data.answer && typeof data.answer === 'object' && typeof data.answer.text === 'string';
        card = found ? answerCard(turn.id, data) : notFoundCard(turn.id, data);
        history.push(exchange(question, found ? data.answer : null));
      }
      finish(request, card);
    }).catch(function () {
      if (pending !== request) return;
      finish(request, errorCard('The answer could not be shown. Try again.', question, turn));
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
    thread.textContent = '';
    intro.hidden = false;
    input.value = '';
    updateControls();
    window.scrollTo({ top: 0, behavior: reduceMotion ? 'auto' : 'smooth' });
    input.focus();
  });

  Array.prototype.forEach.call(document.querySelectorAll('.example'), function (button) {
    button.addEventListener('click', function () {
      if (pending) return;
      ask(button.textContent);
      input.focus();
    });
  });

  updateControls();
})();
