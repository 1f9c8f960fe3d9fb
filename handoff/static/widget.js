/*
 * CSKH chat widget: one tag on any site.
 *
 *   <script src="https://hub.example.vn/widget.js" data-server="https://hub.example.vn"></script>
 *
 * Options (data-*): server (default: where this script came from), title, mode ("bubble" |
 * "inline"), target (CSS selector for inline mode), open ("true" opens the bubble at load),
 * welcome (the greeting of an empty chat, in the bot's voice).
 * Speaks Rasa's socketio protocol (session_request/session_confirm, user_uttered/bot_uttered)
 * to the conversation hub. Plain JS, no build step. Every piece of message content is
 * rendered with textContent, never innerHTML: agents and customers can type anything.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    // Loaded asynchronously: find our own tag.
    var tags = document.querySelectorAll("script[src*='widget.js']");
    script = tags[tags.length - 1];
  }
  var data = (script && script.dataset) || {};
  var server = (data.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var title = data.title || "Hỗ trợ khách hàng";
  // A page's own greeting, else the hub's (in the shop's persona, with the topics).
  var welcomeText = data.welcome || "";
  var mode = data.mode === "inline" ? "inline" : "bubble";
  var storageKey = "cskh_session_id:" + server;
  var MAX_CHARS = 5000;

  var state = {
    socket: null,
    sessionId: null,
    convState: "bot",
    seen: {},
    waitingBot: false,
    agentTyping: false,
    connectedOnce: false,
    loadingHistory: false,
    pending: [],
  };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function chatIcon() {
    // Built with DOM calls (no markup strings); an emoji would need a colour font.
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 " +
        "6a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 " +
        "0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z"
    );
    svg.appendChild(path);
    return svg;
  }

  function loadCss(href) {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.appendChild(link);
  }

  function loadSocketIo(cb) {
    if (window.io) return cb();
    var s = document.createElement("script");
    s.src = server + "/static/vendor/socket.io.min.js";
    s.onload = cb;
    s.onerror = function () {
      setStatus("Không tải được thư viện kết nối.", true);
    };
    document.head.appendChild(s);
  }

  // ---------------------------------------------------------------- DOM
  var root = el("div", "cskh-w cskh-w--" + mode);
  root.setAttribute("data-testid", "cskh-widget");
  var launcher = el("button", "cskh-w-launcher");
  launcher.appendChild(chatIcon());
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Mở khung chat hỗ trợ");
  launcher.setAttribute("data-testid", "cskh-launcher");
  var panel = el("section", "cskh-w-panel");
  panel.setAttribute("aria-label", title);
  var header = el("header", "cskh-w-header");
  var titleEl = el("div", "cskh-w-title", title);
  var statusEl = el("div", "cskh-w-status", "Đang kết nối…");
  statusEl.setAttribute("data-testid", "cskh-status");
  var closeBtn = el("button", "cskh-w-close", "×");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", "Đóng");
  header.appendChild(titleEl);
  header.appendChild(statusEl);
  if (mode === "bubble") header.appendChild(closeBtn);
  var list = el("div", "cskh-w-messages");
  list.setAttribute("role", "log");
  list.setAttribute("aria-live", "polite");
  list.setAttribute("data-testid", "cskh-messages");
  var typing = el("div", "cskh-w-typing", "");
  typing.setAttribute("data-testid", "cskh-typing");
  typing.hidden = true;
  // The greeting and suggested topics of an empty chat. Drawn by this widget only, never sent
  // as a bot message: the socket keeps Rasa's protocol for every other client, and a reload
  // of a chat with history must not greet again on top of it.
  var welcome = el("div", "cskh-w-welcome");
  welcome.setAttribute("data-testid", "cskh-welcome");
  var welcomeBubble = el("div", "cskh-w-bubble cskh-w-welcome-text", welcomeText);
  var topicsEl = el("div", "cskh-w-topics");
  topicsEl.setAttribute("role", "group");
  topicsEl.setAttribute("aria-label", "Câu hỏi thường gặp");
  topicsEl.setAttribute("data-testid", "cskh-topics");
  welcome.appendChild(welcomeBubble);
  welcome.appendChild(topicsEl);
  var topicsRequested = false;
  // The last bot message's buttons sit in the message list right under it (setButtons keeps
  // them last), so a long choice list scrolls with the conversation instead of squeezing it.
  var quick = el("div", "cskh-w-quick");
  quick.setAttribute("data-testid", "cskh-quick");
  var form = el("form", "cskh-w-form");
  var input = el("textarea", "cskh-w-input");
  input.rows = 1;
  input.maxLength = MAX_CHARS;
  input.placeholder = "Nhập tin nhắn…";
  input.setAttribute("aria-label", "Tin nhắn");
  input.setAttribute("data-testid", "cskh-input");
  var send = el("button", "cskh-w-send", "Gửi");
  send.type = "submit";
  send.setAttribute("data-testid", "cskh-send");
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(list);
  panel.appendChild(typing);
  panel.appendChild(form);

  function mount() {
    if (mode === "inline") {
      var target = (data.target && document.querySelector(data.target)) || document.body;
      root.appendChild(panel);
      target.appendChild(root);
      root.classList.add("cskh-w--open");
    } else {
      root.appendChild(panel);
      root.appendChild(launcher);
      document.body.appendChild(root);
      if (data.open === "true" || sessionStorage.getItem(storageKey + ":open") === "1") open();
    }
  }

  function open() {
    root.classList.add("cskh-w--open");
    sessionStorage.setItem(storageKey + ":open", "1");
    setTimeout(function () {
      input.focus();
    }, 0);
    scrollDown();
  }

  function close() {
    root.classList.remove("cskh-w--open");
    sessionStorage.removeItem(storageKey + ":open");
  }

  launcher.addEventListener("click", function () {
    if (root.classList.contains("cskh-w--open")) close();
    else open();
  });
  closeBtn.addEventListener("click", close);

  function setStatus(text, isError) {
    statusEl.textContent = text;
    statusEl.classList.toggle("cskh-w-status--error", !!isError);
  }

  function scrollDown() {
    list.scrollTop = list.scrollHeight;
  }

  function timeOf(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) d = new Date();
    return d.toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" });
  }

  // ------------------------------------------------------------ welcome
  function showWelcome() {
    if (!welcome.parentNode) list.appendChild(welcome);
    loadTopics();
  }

  function hideWelcome() {
    if (welcome.parentNode) welcome.parentNode.removeChild(welcome);
  }

  function loadTopics() {
    if (topicsRequested) return;
    topicsRequested = true;
    fetch(server + "/api/widget/topics", { credentials: "omit" })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (body) {
        if (!welcomeText && body && body.welcome) welcomeBubble.textContent = body.welcome;
        var topics = (body && body.topics) || [];
        topics.forEach(function (t) {
          if (!t || !t.title) return;
          var btn = el("button", "cskh-w-topic", t.title);
          btn.type = "button";
          btn.setAttribute("data-testid", "cskh-topic");
          btn.addEventListener("click", function () {
            sendText(t.title);
          });
          topicsEl.appendChild(btn);
        });
        scrollDown();
      })
      .catch(function () {
        /* the greeting alone still invites a question */
      });
  }

  // ------------------------------------------------------------ rendering
  function render(msg) {
    // msg: {id?, role, text, buttons?, notice?, agent_name?, created_at?}
    if (msg.id !== undefined && msg.id !== null) {
      if (state.seen[msg.id]) return;
      state.seen[msg.id] = true;
    }
    hideWelcome();
    var role = msg.role || "bot";
    if (role === "system" || msg.notice === "agent_joined" || msg.notice === "agent_left") {
      var notice = el("div", "cskh-w-notice", msg.text);
      notice.setAttribute("data-testid", "cskh-notice");
      notice.setAttribute("data-notice", msg.notice || "");
      list.appendChild(notice);
    } else if (msg.text) {
      var row = el("div", "cskh-w-row cskh-w-row--" + role);
      var bubble = el("div", "cskh-w-bubble");
      bubble.setAttribute("data-testid", "cskh-msg-" + role);
      if (role === "agent" && msg.agent_name) {
        bubble.appendChild(el("div", "cskh-w-author", msg.agent_name));
      }
      var body = el("div", "cskh-w-text");
      appendLinkified(body, msg.text);
      bubble.appendChild(body);
      bubble.appendChild(el("div", "cskh-w-time", timeOf(msg.created_at)));
      row.appendChild(bubble);
      list.appendChild(row);
    }
    setButtons(msg.buttons || []);
    scrollDown();
  }

  // Help-center answers end with the article's address: make http(s) URLs clickable links.
  // Built from text nodes and an <a> whose href is only ever an http(s) URL, so nothing a
  // customer or agent types can become markup or a javascript: link.
  var URL_RE = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
  function appendLinkified(parent, text) {
    text = String(text);
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a", "cskh-w-link", match[0]);
      a.href = match[0];
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.setAttribute("data-testid", "cskh-link");
      parent.appendChild(a);
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function setButtons(buttons) {
    while (quick.firstChild) quick.removeChild(quick.firstChild);
    buttons.forEach(function (b) {
      var btn = el("button", "cskh-w-qr", b.title);
      btn.type = "button";
      btn.setAttribute("data-testid", "cskh-quick-reply");
      btn.addEventListener("click", function () {
        sendText(b.payload || b.title, b.title);
      });
      quick.appendChild(btn);
    });
    list.appendChild(quick);
  }

  function setTyping() {
    var text = state.agentTyping
      ? "Nhân viên đang nhập…"
      : state.waitingBot
        ? "Trợ lý đang trả lời…"
        : "";
    typing.textContent = text;
    typing.hidden = !text;
  }

  function stateLabel() {
    if (state.convState === "assigned") return "Đang trò chuyện với nhân viên";
    if (state.convState === "queued") return "Đang chờ nhân viên";
    return "Trợ lý tự động · trực tuyến";
  }

  function noteState(msg) {
    if (msg.notice === "agent_joined") state.convState = "assigned";
    else if (msg.notice === "agent_left" || msg.notice === "left_queue") state.convState = "bot";
    else if (msg.notice === "queued" || msg.notice === "escalated" || msg.notice === "transferred")
      state.convState = "queued";
    setStatus(stateLabel());
  }

  function loadHistory(sessionId) {
    return fetch(server + "/api/conversations/" + encodeURIComponent(sessionId) + "/history", {
      credentials: "omit",
    })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (h) {
        if (!h) return;
        // Re-render from the server's truth: covers messages missed while disconnected.
        while (list.firstChild) list.removeChild(list.firstChild);
        state.seen = {};
        h.messages.forEach(render);
        // Sent before the session was confirmed: not in the history yet, still the customer's.
        state.pending.forEach(function (p) {
          render({ role: "user", text: p.shown });
        });
        if (!h.messages.length && !state.pending.length) showWelcome();
        var last = h.messages[h.messages.length - 1];
        if (!last || !last.buttons || !last.buttons.length) setButtons([]);
        state.convState = h.state || "bot";
        setStatus(stateLabel());
      })
      .catch(function () {
        /* history is a convenience; live messages still work */
      });
  }

  // ------------------------------------------------------------- socket
  function connect() {
    var socket = window.io(server, {
      path: "/socket.io",
      transports: ["websocket", "polling"],
      reconnection: true,
      reconnectionDelayMax: 10000,
    });
    state.socket = socket;

    socket.on("connect", function () {
      setStatus("Đang kết nối…");
      socket.emit("session_request", { session_id: localStorage.getItem(storageKey) });
    });
    socket.on("session_confirm", function (sessionId) {
      var id = typeof sessionId === "string" ? sessionId : sessionId && sessionId.session_id;
      if (!id) return;
      state.sessionId = id;
      localStorage.setItem(storageKey, id);
      state.connectedOnce = true;
      state.loadingHistory = true;
      loadHistory(id).then(function () {
        state.loadingHistory = false;
        var pending = state.pending.splice(0);
        pending.forEach(function (p) {
          socket.emit("user_uttered", { message: p.text, session_id: id });
        });
      });
      setStatus(stateLabel());
    });
    // `bot_uttered` carries Rasa's exact payloads for stock widgets; this widget reads the
    // hub's own event, which has the message id, role, agent name and notice kind.
    socket.on("hub_message", function (payload) {
      var msg = payload || {};
      if (!msg.role) return;
      if (msg.role === "bot" || msg.role === "agent") state.waitingBot = false;
      if (msg.role === "agent") state.agentTyping = false;
      setTyping();
      noteState(msg);
      render(msg);
    });
    socket.on("hub_ack", function (ack) {
      if (ack && ack.state) {
        state.convState = ack.state;
        setStatus(stateLabel());
      }
      state.waitingBot = false;
      setTyping();
    });
    socket.on("hub_typing", function (t) {
      state.agentTyping = !!(t && t.on);
      setTyping();
    });
    socket.on("hub_error", function (err) {
      state.waitingBot = false;
      setTyping();
      var n = el("div", "cskh-w-notice cskh-w-notice--error", (err && err.detail) || "Lỗi.");
      n.setAttribute("data-testid", "cskh-error");
      list.appendChild(n);
      scrollDown();
    });
    socket.on("disconnect", function () {
      setStatus("Mất kết nối, đang thử lại…", true);
    });
    socket.io.on("reconnect_attempt", function () {
      setStatus("Đang kết nối lại…", true);
    });
  }

  function sendText(payload, shown) {
    var text = String(payload || "").trim();
    if (!text) return;
    if (text.length > MAX_CHARS) {
      setStatus("Tin nhắn quá dài (tối đa " + MAX_CHARS + " ký tự).", true);
      return;
    }
    setButtons([]);
    render({ role: "user", text: shown || text });
    // socket.io buffers emits while reconnecting, so nothing typed offline is dropped. Held
    // until the session is confirmed (a topic can be clicked while the socket library is still
    // loading) and its history drawn: the history redraws the list, and a message sent while
    // it was on its way would vanish from the screen.
    if (state.sessionId && state.socket && !state.loadingHistory) {
      state.socket.emit("user_uttered", { message: text, session_id: state.sessionId });
    } else {
      state.pending.push({ text: text, shown: shown || text });
    }
    if (state.convState === "bot") {
      state.waitingBot = true;
      setTyping();
    }
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    sendText(text);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });

  function start() {
    loadCss(server + "/static/widget.css");
    mount();
    // No stored session: the chat is known to be empty, greet at once. Otherwise the history
    // decides (loadHistory), so a returning customer never sees a greeting over old messages.
    if (!localStorage.getItem(storageKey)) showWelcome();
    loadSocketIo(connect);
  }

  window.CSKHWidget = { open: open, close: close };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
