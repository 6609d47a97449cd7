/* The commenter's widget (issue 14): the site's notice under a comment form, the words that break it while
 * the comment is written, and the verdict on submit. Plain JavaScript, no framework, no build step.
 *
 *   <script src="https://moderation.example/widget.js" data-form="#comment-form" defer></script>
 *
 * data-form        the comment form (a CSS selector; default: the first form on the page)
 * data-textarea    the comment's field, inside the form (default: its first textarea)
 * data-service     the service's base URL (default: where this script was loaded from)
 * data-site-key    the site's API key, sent as X-API-Key (its origins must name the page's: CORS)
 * data-article-id  sent with the comment as its article_id
 * data-timeout-ms  how long to wait for the service before letting the form submit (default 2000)
 * data-debounce-ms the pause in typing before a pre-check (default 300)
 *
 * On submit the comment goes to POST /v1/moderate under an id made here ("w-" and 20 random characters):
 *   accept  the form submits, with hidden inputs moderation_comment_id, moderation_status_token and
 *           moderation_verdict, so the site's server can read the comment's status itself;
 *   review  the form submits the same way (the site holds the comment until its status says publish), and
 *           the commenter is told it awaits a moderator;
 *   reject  the form does not submit: the notice and the words are shown, the text stays for editing, and
 *           the commenter may ask for a human review (the appeal) or read the statement of reasons.
 * When the service does not answer within the timeout, or answers with an error, the form submits without
 * the hidden inputs: the site's server-side check decides.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;
  var data = script.dataset;
  var CONFIG = {
    form: data.form || "form",
    textarea: data.textarea || "textarea",
    base: (data.service || new URL(script.src, document.baseURI).origin).replace(/\/+$/, ""),
    key: data.siteKey || null,
    articleId: data.articleId || null,
    timeoutMs: positive(data.timeoutMs, 2000),
    debounceMs: positive(data.debounceMs, 300)
  };
  var CLAUSES = { obscene: "obscene words", derogatory: "derogatory words", personal: "a personal attack" };
  var STATUSES = {
    accepted: "Your comment is published.",
    rejected: "Your comment was not published.",
    pending_review: "Your comment awaits a moderator.",
    approved: "A moderator approved your comment: it is published.",
    rejected_by_moderator: "A moderator reviewed your comment and did not publish it."
  };
  var counter = 0;

  function positive(text, fallback) {
    var n = parseInt(text || "", 10);
    return n > 0 ? n : fallback;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function commentId() {
    var alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    var bytes = new Uint8Array(20);
    window.crypto.getRandomValues(bytes);
    var id = "w-";
    for (var i = 0; i < bytes.length; i++) id += alphabet[bytes[i] % alphabet.length];
    return id;
  }

  // fetch with a timeout; resolves to {status, body, headers} or rejects (network error, timeout, abort).
  function call(method, path, body, options) {
    options = options || {};
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, CONFIG.timeoutMs);
    if (options.signal) {
      if (options.signal.aborted) controller.abort();
      options.signal.addEventListener("abort", function () { controller.abort(); });
    }
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (CONFIG.key) headers["X-API-Key"] = CONFIG.key;
    if (options.headers) for (var name in options.headers) headers[name] = options.headers[name];
    return fetch(CONFIG.base + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      credentials: "omit",
      mode: "cors"
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        return { status: response.status, body: json, headers: response.headers };
      });
    }).finally(function () { clearTimeout(timer); });
  }

  // The service's offsets count code points; JavaScript strings count UTF-16 units.
  function pieces(text, spans) {
    var points = Array.from(text);
    var out = [];
    var at = 0;
    spans.slice().sort(function (a, b) { return a.start - b.start || b.end - a.end; }).forEach(function (s) {
      if (s.start < at || s.end > points.length || s.end <= s.start) return; // overlapping or stale
      if (s.start > at) out.push({ text: points.slice(at, s.start).join("") });
      out.push({ text: points.slice(s.start, s.end).join(""), span: s });
      at = s.end;
    });
    if (at < points.length) out.push({ text: points.slice(at).join("") });
    return out;
  }

  function Widget(form, field) {
    this.form = form;
    this.field = field;
    this.pending = null;     // the pre-check in flight
    this.timer = null;
    this.quietUntil = 0;     // after a 429, no pre-check before this time (ms)
    this.passing = false;    // the widget itself is submitting the form
    this.verdict = null;     // the last /v1/moderate answer for the text as it stands
    this.n = ++counter;
    this.build();
    var self = this;
    field.addEventListener("input", function () { self.typed(); });
    form.addEventListener("submit", function (event) { self.submitted(event); });
    this.loadNotice();
    if (field.value.trim()) this.typed();
  }

  Widget.prototype.build = function () {
    var id = "cmw-" + this.n;
    var box = el("div", "cmw");
    box.id = id;
    box.setAttribute("data-state", "idle");
    this.notice = el("p", "cmw-notice");
    this.notice.id = id + "-notice";
    this.notice.hidden = true;
    this.live = el("div", "cmw-live");
    this.live.id = id + "-live";
    this.live.setAttribute("role", "status");
    this.live.setAttribute("aria-live", "polite");
    this.live.tabIndex = -1;

    this.preview = el("section", "cmw-preview");
    this.preview.hidden = true;
    this.preview.setAttribute("aria-labelledby", id + "-preview-title");
    var title = el("h3", "cmw-title", "Words to reconsider");
    title.id = id + "-preview-title";
    this.marked = el("p", "cmw-text");
    this.list = el("ul", "cmw-list");
    this.preview.append(title, this.marked, this.list);

    this.appeal = el("form", "cmw-appeal");
    this.appeal.hidden = true;
    this.appeal.noValidate = true;
    var label = el("label", "cmw-label", "Think this is a mistake? Tell a moderator why (they decide, not a machine):");
    label.htmlFor = id + "-explanation";
    this.explanation = el("textarea", "cmw-explanation");
    this.explanation.id = id + "-explanation";
    this.explanation.rows = 3;
    this.explanation.maxLength = 2000;
    var send = el("button", "cmw-button", "Ask for a human review");
    send.type = "submit";
    this.statement = el("a", "cmw-statement", "Why was it not published? (statement of reasons)");
    this.statement.target = "_blank";
    this.statement.rel = "noopener";
    this.appeal.append(label, this.explanation, send, this.statement);

    this.status = el("div", "cmw-status");
    this.status.hidden = true;
    this.statusButton = el("button", "cmw-button", "Check my comment's status");
    this.statusButton.type = "button";
    this.status.append(this.statusButton);

    box.append(this.notice, this.live, this.preview, this.appeal, this.status);
    this.box = box;
    this.form.insertAdjacentElement("afterend", box);
    var described = (this.field.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
    described.push(this.notice.id, this.live.id);
    this.field.setAttribute("aria-describedby", described.join(" "));

    var self = this;
    this.appeal.addEventListener("submit", function (event) { event.preventDefault(); self.sendAppeal(); });
    this.statusButton.addEventListener("click", function () { self.checkStatus(); });
  };

  Widget.prototype.state = function (name) { this.box.setAttribute("data-state", name); };

  Widget.prototype.say = function (text, kind) {
    this.live.textContent = text || "";
    this.live.className = "cmw-live" + (kind ? " cmw-" + kind : "");
  };

  Widget.prototype.loadNotice = function () {
    var self = this;
    call("GET", "/v1/notice").then(function (answer) {
      if (answer.status === 200 && answer.body && answer.body.notice) {
        self.notice.textContent = answer.body.notice;
        self.notice.hidden = false;
      }
    }).catch(function () { /* no notice: the service is away; the form still works */ });
  };

  Widget.prototype.typed = function () {
    var self = this;
    this.verdict = null;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.precheck(); }, CONFIG.debounceMs);
  };

  // The page's language as a BCP 47 tag the service takes ("de", "pt-BR"), or nothing: a page whose
  // <html lang> is not such a tag ("english", "") must not make its pre-checks fail; the service then detects.
  function pageLanguage() {
    var tag = (document.documentElement.lang || "").trim();
    return /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(tag) && tag.length <= 35 ? tag : "";
  }

  Widget.prototype.precheck = function () {
    var self = this;
    var text = this.field.value;
    if (this.pending) this.pending.abort();   // a stale question: its answer would be for another text
    this.pending = null;
    if (!text.trim()) { this.show(text, []); this.say(""); this.state("idle"); return; }
    if (Date.now() < this.quietUntil) return;
    var controller = new AbortController();
    this.pending = controller;
    var body = { text: text };
    var lang = pageLanguage();
    if (lang) body.lang = lang;
    call("POST", "/v1/precheck", body, { signal: controller.signal }).then(function (answer) {
      if (self.pending !== controller || self.field.value !== text) return;
      self.pending = null;
      if (answer.status === 429) {
        var wait = parseInt(answer.headers.get("Retry-After") || "5", 10);
        self.quietUntil = Date.now() + wait * 1000;
        return;
      }
      if (answer.status !== 200 || !answer.body) return;
      self.show(text, answer.body.spans || []);
      if (answer.body.verdict === "accept") { self.say(""); self.state("clean"); return; }
      self.say(advice(answer.body), "advice");
      self.state("flagged");
    }).catch(function () { if (self.pending === controller) self.pending = null; });
  };

  // What a pre-check's verdict means for the comment as it stands (it has not been posted yet).
  function advice(precheck) {
    var clauses = [];
    (precheck.reasons || []).forEach(function (reason) {
      var name = CLAUSES[reason.clause];
      if (name && clauses.indexOf(name) < 0) clauses.push(name);
    });
    var why = clauses.length ? " (" + clauses.join(", ") + ")" : "";
    if (precheck.verdict === "reject") return "As it stands, this comment would not be published" + why + ". You can rephrase it before posting.";
    return "As it stands, this comment would wait for a moderator" + why + " before it appears.";
  }

  // The text with its listed words marked, and the same words listed as text (never colour alone).
  Widget.prototype.show = function (text, spans) {
    this.marked.textContent = "";
    this.list.textContent = "";
    if (!spans.length) { this.preview.hidden = true; return; }
    var self = this;
    pieces(text, spans).forEach(function (piece) {
      if (!piece.span) { self.marked.append(document.createTextNode(piece.text)); return; }
      var clause = CLAUSES[piece.span.clause] || piece.span.clause;
      var what = piece.span.tier === "reject" ? "not published" : "held for a moderator";
      var mark = el("mark", "cmw-span cmw-" + piece.span.clause + " cmw-tier-" + piece.span.tier, piece.text);
      mark.title = "Breaks the notice: " + clause + " (" + what + ")";
      mark.setAttribute("data-clause", piece.span.clause);
      self.marked.append(mark);
      var item = el("li", "cmw-item");
      item.append(el("q", "cmw-word", piece.text), document.createTextNode(" — " + clause + ", " + what));
      item.setAttribute("data-clause", piece.span.clause);
      self.list.append(item);
    });
    this.preview.hidden = false;
  };

  Widget.prototype.submitted = function (event) {
    if (this.passing) return;                     // our own submit: let it through
    var text = this.field.value;
    if (!text.trim()) return;                     // nothing to judge: the site's own checks answer
    event.preventDefault();
    if (this.box.getAttribute("data-state") === "checking") return;   // a second click while we ask
    if (this.pending) { this.pending.abort(); this.pending = null; }
    clearTimeout(this.timer);
    var self = this;
    var id = commentId();
    var body = { text: text, id: id };
    if (CONFIG.articleId) body.article_id = CONFIG.articleId;
    this.say("Checking your comment…");
    this.state("checking");
    call("POST", "/v1/moderate", body).then(function (answer) {
      if (self.field.value !== text) { self.say(""); self.state("idle"); return; } // edited meanwhile
      if (answer.status !== 200 || !answer.body) { self.pass(null); return; }
      self.decided(text, answer.body);
    }).catch(function () { self.pass(null); });
  };

  Widget.prototype.decided = function (text, verdict) {
    this.verdict = verdict;
    if (verdict.verdict === "reject") {
      var matches = (verdict.profanity && verdict.profanity.matches) || [];
      this.show(text, matches);
      this.say(verdict.notice, "rejected");
      this.state("rejected");
      this.offerAppeal(verdict);
      this.live.focus();
      return;
    }
    if (verdict.verdict === "review") {
      this.say("Thank you. Your comment awaits a moderator: it will appear once they have read it.", "held");
      this.state("held");
    } else {
      this.say("Thank you: your comment is being posted.", "accepted");
      this.state("accepted");
    }
    this.pass(verdict);
  };

  Widget.prototype.offerAppeal = function (verdict) {
    this.status.hidden = true;
    if (!verdict.appeal_token) { this.appeal.hidden = true; return; }
    this.statement.href = CONFIG.base + "/v1/comments/" + encodeURIComponent(verdict.id) +
      "/statement.html?appeal_token=" + encodeURIComponent(verdict.appeal_token);
    this.explanation.value = "";
    this.appeal.hidden = false;
  };

  Widget.prototype.sendAppeal = function () {
    var verdict = this.verdict;
    var explanation = this.explanation.value.trim();
    if (!verdict || !verdict.appeal_token) return;
    if (!explanation) { this.say("Write a few words for the moderator first.", "advice"); this.explanation.focus(); return; }
    var self = this;
    var path = "/v1/comments/" + encodeURIComponent(verdict.id) + "/appeal";
    call("POST", path, { appeal_token: verdict.appeal_token, explanation: explanation }).then(function (answer) {
      if (answer.status === 202 || answer.status === 200) {
        self.appeal.hidden = true;
        self.say("Your request was sent. A moderator will read your comment and decide.", "held");
        self.state("appealed");
        self.status.hidden = !verdict.status_token;
        self.statusButton.focus();
      } else {
        var message = answer.body && answer.body.error ? answer.body.error.message : "The request failed.";
        self.say(message, "advice");
      }
    }).catch(function () { self.say("The service did not answer; try again in a moment.", "advice"); });
  };

  Widget.prototype.checkStatus = function () {
    var verdict = this.verdict;
    if (!verdict || !verdict.status_token) return;
    var self = this;
    call("GET", "/v1/comments/" + encodeURIComponent(verdict.id), undefined, {
      headers: { "X-Status-Token": verdict.status_token }
    }).then(function (answer) {
      if (answer.status !== 200 || !answer.body) { self.say("The status could not be read now.", "advice"); return; }
      self.say(STATUSES[answer.body.status] || answer.body.status, answer.body.publish ? "accepted" : "held");
      self.box.setAttribute("data-status", answer.body.status);
      if (answer.body.publish) self.preview.hidden = true;   // published: nothing left to reconsider
    }).catch(function () { self.say("The service did not answer; try again in a moment.", "advice"); });
  };

  // Submit the form for real: with the verdict's id and token for the site's server, or without (unchecked).
  Widget.prototype.pass = function (verdict) {
    var form = this.form;
    ["moderation_comment_id", "moderation_status_token", "moderation_verdict"].forEach(function (name) {
      var old = form.querySelector('input[type="hidden"][name="' + name + '"]');
      if (old) old.remove();
    });
    if (verdict) {
      hidden(form, "moderation_comment_id", verdict.id);
      hidden(form, "moderation_status_token", verdict.status_token || "");
      hidden(form, "moderation_verdict", verdict.verdict);
    }
    this.passing = true;
    if (typeof form.requestSubmit === "function") form.requestSubmit(); else form.submit();
    this.passing = false;
  };

  function hidden(form, name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }

  function start() {
    var form = document.querySelector(CONFIG.form);
    if (!form) { console.warn("moderation widget: no form matches " + CONFIG.form); return; }
    var field = form.querySelector(CONFIG.textarea);
    if (!field) { console.warn("moderation widget: no field matches " + CONFIG.textarea + " in the form"); return; }
    if (!document.querySelector('link[data-moderation-widget]')) {
      var css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = CONFIG.base + "/widget.css";
      css.setAttribute("data-moderation-widget", "");
      document.head.append(css);
    }
    form.moderationWidget = new Widget(form, field);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
