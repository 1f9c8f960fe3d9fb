/*
 * Agent console: live queue, claim, summary on top, transcript with per-message sentiment and
 * delivery state, KB suggestions, canned replies, transfer/resolve/hand back, supervisor numbers.
 * Data over the JSON API (cookie session + X-Requested-With). Live updates over socket.io
 * namespace /console are applied to local state (no refetch): `conversation` carries the
 * changed card and the messages it gained, `delivery` an outbound message's delivery state.
 * The lists are read in full only at start, every 60 s and on reconnect (a safety net).
 * All content goes through textContent: customers can type markup.
 */
(function () {
  "use strict";

  var REASONS = {
    angry: "Bức xúc",
    negative_trend: "Tiêu cực kéo dài",
    requested: "Muốn gặp nhân viên",
    bot_failed: "Bot không giải quyết được",
    repeated: "Phải nhắc lại nhiều lần",
    complex: "Vấn đề phức tạp",
    vip: "VIP",
    bot_unavailable: "Bot gặp sự cố",
  };
  var SENTI = { positive: "tích cực", neutral: "trung tính", negative: "tiêu cực" };
  var ROLE = { user: "Khách", bot: "Bot", agent: "Nhân viên", system: "Hệ thống" };
  var CHANNEL = { web: "Web", rest: "REST", messenger: "Messenger", zalo: "Zalo" };
  var ATTACHMENT = {
    image: "Ảnh", sticker: "Sticker", file: "Tệp", audio: "Ghi âm", video: "Video",
    gif: "GIF", location: "Vị trí", link: "Liên kết", fallback: "Đính kèm",
  };

  function channelBadge(conv) {
    var b = el("span", "badge badge--ch badge--ch-" + conv.channel, CHANNEL[conv.channel] || conv.channel);
    b.setAttribute("data-testid", "channel-badge");
    b.setAttribute("data-channel", conv.channel);
    return b;
  }

  // Time left to answer on platforms that close the conversation (Messenger 24 h / 7 days
  // for a person, Zalo 7 days); ticks with the SLA timers.
  function windowNode(conv) {
    if (!conv.reply_window_ends_at) return null;
    var span = el("span", "badge badge--window");
    span.setAttribute("data-testid", "reply-window");
    span.setAttribute("data-ends", conv.reply_window_ends_at);
    updateWindow(span);
    return span;
  }

  function updateWindow(span) {
    var left = (new Date(span.getAttribute("data-ends")) - Date.now()) / 1000;
    span.classList.toggle("badge--window-closed", left <= 0);
    span.classList.toggle("badge--window-soon", left > 0 && left < 3600);
    span.textContent = left <= 0 ? "Hết hạn trả lời trên kênh này" : "Còn " + fmtDuration(left) + " để trả lời";
  }

  function attachmentsNode(m) {
    if (!m.attachments || !m.attachments.length) return null;
    var box = el("div", "msg-attachments");
    m.attachments.forEach(function (a) {
      var label = (ATTACHMENT[a.kind] || a.kind || "Đính kèm") + (a.name ? ": " + a.name : "");
      var item;
      if (a.url && /^https?:/i.test(a.url)) {
        item = el("a", "attachment", label);
        item.href = a.url;
        item.target = "_blank";
        item.rel = "noopener noreferrer";
      } else {
        item = el("span", "attachment", label);
      }
      item.setAttribute("data-testid", "attachment");
      box.appendChild(item);
    });
    return box;
  }
  var STATUS = { online: "Trực tuyến", away: "Vắng mặt" };
  var RENDER_DELAY_MS = 100; // a burst of live events renders once
  var SAFETY_REFRESH_MS = 60000;

  var state = {
    me: null,
    queue: [], // queued conversations, service order, position numbered here
    mine: [], // assigned to me (all assigned for a supervisor) + flagged bot-mode ones
    latest: {}, // conversation id -> the newest view applied (events, HTTP answers, lists)
    refreshing: null, // while a list refresh is in flight: id -> view applied meanwhile
    sla: { first_response_seconds: 120, resolution_seconds: 1800 },
    current: null, // {conversation, messages, events}
    opening: null, // {id, events: [...]} while the GET of a conversation is in flight
    deliveries: {}, // message id -> newest delivery state seen in a `delivery` event
    deliveryOrder: [],
    agents: [],
    canned: [],
    typingTimer: null,
    socket: null,
  };

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function api(method, path, body) {
    var opts = { method: method, headers: { "X-Requested-With": "cskh" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      if (r.status === 401) {
        location.href = "/console/login";
        throw new Error("Phiên đăng nhập đã hết hạn.");
      }
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.detail || "Lỗi " + r.status);
        return data;
      });
    });
  }

  function fmtDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    if (m >= 60) return Math.floor(m / 60) + " giờ " + (m % 60) + " phút";
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function since(iso) {
    return iso ? (Date.now() - new Date(iso).getTime()) / 1000 : 0;
  }

  // An ISO timestamp as a number with microseconds (the server's isoformat keeps them), so
  // two updates within one millisecond still compare. NaN when missing or unreadable.
  function stamp(iso) {
    if (!iso) return NaN;
    var m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(iso);
    if (!m) return Date.parse(iso) * 1000;
    // Whole seconds from Date.parse (the fraction cut off), plus all six digits of the
    // fraction: two changes within one second must still order.
    var micros = Number(((m[2] || "") + "000000").slice(0, 6));
    return Date.parse(m[1] + m[3]) * 1000 + micros;
  }

  // A notice at the top of the page (e.g. who took the chat this agent tried to claim),
  // read by screen readers, gone after a few seconds; never a blocking browser alert.
  var flashTimer = null;
  function toast(text) {
    var flash = document.getElementById("flash");
    if (!flash) {
      flash = el("div", "flash");
      flash.id = "flash";
      flash.setAttribute("role", "status");
      flash.setAttribute("data-testid", "flash");
      document.body.appendChild(flash);
    }
    flash.textContent = text;
    flash.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () { flash.hidden = true; }, 8000);
  }

  // ------------------------------------------------------------- rendering
  // Live events only mark what is dirty; one timer renders a whole burst at once.
  var dirty = { lists: false, conversation: false, stats: false };
  var renderTimer = null;

  function scheduleRender(parts) {
    Object.keys(parts).forEach(function (k) {
      if (parts[k]) dirty[k] = true;
    });
    if (renderTimer !== null) return;
    renderTimer = setTimeout(flushRender, RENDER_DELAY_MS);
  }

  function flushRender() {
    renderTimer = null;
    var todo = dirty;
    dirty = { lists: false, conversation: false, stats: false };
    if (todo.conversation) renderConversationKeepingDraft();
    if (todo.lists) renderLists();
    if (todo.stats && !$("view-stats").hidden) renderStats();
  }

  // ----------------------------------------------------------- local state
  function belongsInQueue(conv) {
    return conv.state === "queued";
  }

  function belongsInMine(conv) {
    if (conv.state === "assigned") {
      if (!conv.assigned_agent || !state.me) return false;
      return state.me.role === "supervisor" || conv.assigned_agent.id === state.me.id;
    }
    return conv.state === "bot" && !!conv.flag;
  }

  function byQueueOrder(a, b) {
    var p = (b.priority || 0) - (a.priority || 0);
    if (p) return p;
    var qa = stamp(a.queued_at), qb = stamp(b.queued_at);
    if (qa !== qb) {
      if (isNaN(qa)) return 1;
      if (isNaN(qb)) return -1;
      return qa - qb;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }

  // As GET /mine: assigned ones first, then flagged bot-mode ones; newest change first.
  function byMineOrder(a, b) {
    var ga = a.state === "assigned" ? 0 : 1, gb = b.state === "assigned" ? 0 : 1;
    if (ga !== gb) return ga - gb;
    var ua = stamp(a.updated_at), ub = stamp(b.updated_at);
    if (ua !== ub) {
      if (isNaN(ua)) return 1;
      if (isNaN(ub)) return -1;
      return ub - ua;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  }

  function numberQueue() {
    state.queue.sort(byQueueOrder);
    state.queue.forEach(function (c, i) {
      c.position = i + 1;
    });
  }

  function upsert(list, conv, wanted) {
    var i;
    for (i = 0; i < list.length; i++) if (list[i].id === conv.id) break;
    var found = i < list.length;
    if (wanted && found) list[i] = conv;
    else if (wanted) list.push(conv);
    else if (found) list.splice(i, 1);
    return wanted || found;
  }

  // True when `conv` is older than a view of the same conversation applied before (an event
  // overtaken by an HTTP answer, or a list snapshot taken before the event).
  function isStale(conv) {
    var have = state.latest[conv.id];
    return !!have && isStaleFor(have, conv);
  }

  // True when `candidate` is older than `have` (two views of one conversation).
  function isStaleFor(have, candidate) {
    var a = stamp(have.updated_at), b = stamp(candidate.updated_at);
    return !isNaN(a) && !isNaN(b) && b < a;
  }

  // Put one conversation view where it belongs: queue, mine, the open conversation's header.
  function applyConversation(conv) {
    if (!conv || !conv.id || isStale(conv)) return false;
    state.latest[conv.id] = conv;
    if (state.refreshing) state.refreshing[conv.id] = conv;
    var inQueue = upsert(state.queue, Object.assign({}, conv), belongsInQueue(conv));
    if (inQueue) numberQueue();
    var inMine = upsert(state.mine, Object.assign({}, conv), belongsInMine(conv));
    if (inMine) state.mine.sort(byMineOrder);
    var shown = !!(state.current && state.current.conversation.id === conv.id);
    if (shown) state.current.conversation = conv;
    scheduleRender({ lists: inQueue || inMine || shown, conversation: shown });
    return true;
  }

  // ---------------------------------------------------------------- delivery
  var DELIVERY_RANK = { pending: 0, sending: 1, sent: 3, failed: 3 };

  // Delivery states only move forward (attempts, then status); an HTTP answer or an event
  // may arrive after a newer state, so keep whichever is further along.
  function deliveryRank(d) {
    if (!d) return -1;
    var r = DELIVERY_RANK[d.status];
    if (r === undefined) r = 0;
    if (d.status === "pending" && d.error) r = 2;
    return (d.attempts || 0) * 4 + r;
  }

  function newerDelivery(a, b) {
    return deliveryRank(b) > deliveryRank(a) ? b : a;
  }

  function rememberDelivery(mid, d) {
    if (!(mid in state.deliveries)) {
      state.deliveryOrder.push(mid);
      if (state.deliveryOrder.length > 1000) delete state.deliveries[state.deliveryOrder.shift()];
    }
    state.deliveries[mid] = newerDelivery(state.deliveries[mid], d);
  }

  function withKnownDelivery(m) {
    var best = newerDelivery(m.delivery, state.deliveries[m.id]);
    return best === m.delivery ? m : Object.assign({}, m, { delivery: best });
  }

  // Add messages to the open conversation (in id order, each once); true if anything changed.
  function addMessages(list) {
    if (!state.current || !list || !list.length) return false;
    var msgs = state.current.messages;
    var index = {};
    msgs.forEach(function (m, i) {
      index[m.id] = i;
    });
    var changed = false, unordered = false;
    list.forEach(function (m) {
      if (m.conversation_id && m.conversation_id !== state.current.conversation.id) return;
      m = withKnownDelivery(m);
      if (m.id in index) {
        var old = msgs[index[m.id]];
        var best = newerDelivery(old.delivery, m.delivery);
        if (best !== old.delivery) {
          msgs[index[m.id]] = Object.assign({}, old, { delivery: best });
          changed = true;
        }
        return;
      }
      if (msgs.length && msgs[msgs.length - 1].id > m.id) unordered = true;
      index[m.id] = msgs.length;
      msgs.push(m);
      changed = true;
    });
    if (unordered) {
      msgs.sort(function (a, b) {
        return a.id - b.id;
      });
    }
    if (changed) scheduleRender({ conversation: true });
    return changed;
  }

  function applyDelivery(ev) {
    if (!ev || ev.message_id === undefined || !ev.delivery) return;
    rememberDelivery(ev.message_id, ev.delivery);
    if (!state.current || ev.conversation_id !== state.current.conversation.id) return;
    var msgs = state.current.messages;
    for (var i = 0; i < msgs.length; i++) {
      if (msgs[i].id === ev.message_id) {
        var best = newerDelivery(msgs[i].delivery, ev.delivery);
        if (best !== msgs[i].delivery) {
          msgs[i] = Object.assign({}, msgs[i], { delivery: best });
          scheduleRender({ conversation: true });
        }
        return;
      }
    }
  }

  function deliveryText(d) {
    if (d.status === "sent") return "Đã gửi";
    if (d.status === "failed") return "Gửi thất bại" + (d.error ? ": " + d.error : "");
    if (d.error) {
      // attempts counts tries taken so far; one being sent now is not a failed one yet.
      var n = Math.max(1, (d.attempts || 0) - (d.status === "sending" ? 1 : 0));
      return "Đang thử lại (lần " + n + "): " + d.error;
    }
    return "Đang gửi…";
  }

  function deliveryNode(d) {
    var kind = d.status === "sent" || d.status === "failed" ? d.status : d.error ? "retry" : "pending";
    var node = el("div", "msg-delivery delivery--" + kind, deliveryText(d));
    node.setAttribute("data-testid", "delivery-status");
    node.setAttribute("data-status", d.status);
    if (d.attempts) node.title = "Số lần gửi: " + d.attempts;
    return node;
  }

  // ----------------------------------------------------------------- lists
  function slaNode(conv) {
    var h = conv.handoff;
    var span = el("span", "sla");
    span.setAttribute("data-sla-queued", h ? h.queued_at : "");
    span.setAttribute("data-sla-first", h && h.first_response_at ? "1" : "");
    // The hub measures the SLA in business hours (a chat queued at 3 a.m. has not breached
    // anything by 3:02); the page only adds the time since, while the business is open.
    if (h && h.sla_elapsed != null) {
      span.setAttribute("data-sla-elapsed", String(h.sla_elapsed));
      span.setAttribute("data-sla-at", h.sla_measured_at || "");
      span.setAttribute("data-sla-running", h.sla_running ? "1" : "");
    }
    updateSla(span);
    return span;
  }

  function updateSla(span) {
    var queuedAt = span.getAttribute("data-sla-queued");
    if (!queuedAt) return;
    var elapsed = span.getAttribute("data-sla-elapsed");
    var waited = elapsed == null ? since(queuedAt)
      : Number(elapsed) + (span.getAttribute("data-sla-running") ? since(span.getAttribute("data-sla-at")) : 0);
    var responded = span.getAttribute("data-sla-first") === "1";
    var target = responded ? state.sla.resolution_seconds : state.sla.first_response_seconds;
    var breach = waited > target;
    span.textContent =
      (responded ? "Mở " : "Chờ ") + fmtDuration(waited) + (breach ? " · quá SLA" : "");
    span.classList.toggle("sla--breach", breach);
    span.title = "SLA " + (responded ? "giải quyết " : "phản hồi đầu tiên ") + fmtDuration(target);
  }

  function customerContact(conv) {
    var contact = (conv.profile && conv.profile.contact) || {};
    var facts = (conv.handoff && conv.handoff.summary && conv.handoff.summary.facts) || {};
    var known = [].concat(contact.phones || [], facts.phones || [], contact.emails || [],
      facts.emails || []);
    return known.length ? known[0] : "";
  }

  function itemNode(conv, withClaim) {
    var li = el("li", "item");
    li.setAttribute("data-testid", withClaim ? "queue-item" : "mine-item");
    li.setAttribute("data-id", conv.id);
    if (state.current && state.current.conversation.id === conv.id) li.classList.add("item--active");
    var head = el("div", "item-head");
    if (withClaim && conv.position) {
      var pos = el("span", "badge badge--pos", "#" + conv.position);
      pos.setAttribute("data-testid", "queue-position");
      pos.title = "Vị trí trong hàng chờ";
      head.appendChild(pos);
    }
    var p = Math.min(conv.priority || 0, 5);
    head.appendChild(el("span", "badge badge--p" + p, "Ưu tiên " + (conv.priority || 0)));
    var reasons = (conv.handoff && conv.handoff.reasons) || [];
    reasons.forEach(function (r) {
      head.appendChild(el("span", "badge badge--reason", REASONS[r] || r));
    });
    if (conv.flag) head.appendChild(el("span", "badge badge--flag", REASONS[conv.flag] || conv.flag));
    if (conv.team) head.appendChild(el("span", "badge", "Nhóm " + conv.team));
    head.appendChild(channelBadge(conv));
    // Who and how they feel, without opening the chat: a phone or e-mail when the customer
    // gave one (left out of hours, or said in the chat), the latest sentiment of the summary.
    var who = customerContact(conv);
    if (who) {
      var whoNode = el("span", "badge badge--contact", who);
      whoNode.setAttribute("data-testid", "item-contact");
      head.appendChild(whoNode);
    }
    var summary = conv.handoff && conv.handoff.summary;
    var latest = summary && summary.sentiment && summary.sentiment.latest;
    var mood = latest ? sentimentBadge(latest) : null;
    if (mood) head.appendChild(mood);
    if (withClaim) {
      var btn = el("button", "claim", "Nhận");
      btn.type = "button";
      btn.setAttribute("data-testid", "claim");
      btn.addEventListener("click", function (e) {
        e.stopPropagation();
        claim(conv.id);
      });
      head.appendChild(btn);
    }
    li.appendChild(head);
    // The summary's one-line issue tells queued chats apart; their last lines often do not.
    var issue = conv.handoff && conv.handoff.summary && conv.handoff.summary.issue;
    if (issue) {
      var issueNode = el("div", "item-text item-issue", issue);
      issueNode.setAttribute("data-testid", "item-issue");
      li.appendChild(issueNode);
    }
    if (!issue || (conv.last_message && conv.last_message !== issue)) {
      var last = el("div", issue ? "item-text item-last muted" : "item-text", conv.last_message || "");
      last.setAttribute("data-testid", "item-last-message");
      li.appendChild(last);
    }
    var foot = el("div", "row");
    if (conv.handoff) foot.appendChild(slaNode(conv));
    if (conv.assigned_agent && state.me.role === "supervisor") {
      foot.appendChild(el("span", "muted", conv.assigned_agent.display_name));
    }
    li.appendChild(foot);
    li.addEventListener("click", function () {
      openConversation(conv.id);
    });
    return li;
  }

  // Keyed update of one list: an unchanged card keeps its node (no flicker, no lost click),
  // a changed one is rebuilt, and nodes move only when the order changed.
  var listNodes = { queue: {}, mine: {} };

  function renderList(root, key, items, withClaim, emptyText) {
    var cache = listNodes[key];
    var next = {};
    var activeId = state.current ? state.current.conversation.id : null;
    var nodes = items.map(function (c) {
      var sig = JSON.stringify(c) + "|" + (c.id === activeId ? 1 : 0);
      var hit = cache[c.id];
      var node = hit && hit.sig === sig ? hit.node : itemNode(c, withClaim);
      next[c.id] = { sig: sig, node: node };
      return node;
    });
    listNodes[key] = next;
    if (!nodes.length) nodes = [el("li", "muted", emptyText)];
    nodes.forEach(function (node, i) {
      if (root.children[i] !== node) root.insertBefore(node, root.children[i] || null);
    });
    while (root.children.length > nodes.length) root.removeChild(root.lastChild);
  }

  function renderLists() {
    if (!state.me) return;
    renderList($("queue"), "queue", state.queue, true, "Không có khách đang chờ.");
    renderList($("mine"), "mine", state.mine, false, "Chưa có.");
    $("queue-count").textContent = state.queue.length ? String(state.queue.length) : "";
    document.title = (state.queue.length ? "(" + state.queue.length + ") " : "") + "Bảng điều khiển CSKH";
  }

  // The full lists from the server: at start, every minute and after a reconnect. Views
  // applied from events while the request was in flight are applied again on top, so a
  // snapshot taken before an event does not undo it.
  var refreshInFlight = null;

  function refreshLists() {
    if (refreshInFlight) return refreshInFlight;
    state.refreshing = {};
    refreshInFlight = Promise.all([api("GET", "/api/console/queue"), api("GET", "/api/console/mine")])
      .then(function (res) {
        var meanwhile = state.refreshing || {};
        state.refreshing = null;
        state.sla = res[0].sla;
        $("online").textContent = res[0].agents_online + " nhân viên trực tuyến";
        state.queue = res[0].queue;
        state.mine = res[1].conversations;
        var fresh = null;
        state.queue.concat(state.mine).forEach(function (c) {
          state.latest[c.id] = c; // the snapshot is the baseline now
          if (state.current && c.id === state.current.conversation.id) fresh = c;
        });
        numberQueue();
        state.mine.sort(byMineOrder);
        if (fresh && !isStaleFor(state.current.conversation, fresh)) {
          state.current.conversation = fresh;
          scheduleRender({ conversation: true });
        }
        Object.keys(meanwhile).forEach(function (id) {
          applyConversation(meanwhile[id]);
        });
        scheduleRender({ lists: true });
      })
      .catch(function (err) {
        state.refreshing = null;
        throw err;
      })
      .then(
        function () {
          refreshInFlight = null;
        },
        function (err) {
          refreshInFlight = null;
          if (window.console) console.warn("refresh failed", err);
        }
      );
    return refreshInFlight;
  }

  // ---------------------------------------------------------- conversation
  function canAct(conv) {
    return (
      conv.state === "assigned" &&
      conv.assigned_agent &&
      (conv.assigned_agent.id === state.me.id || state.me.role === "supervisor")
    );
  }

  function sentimentBadge(s) {
    if (!s) return null;
    var cls = s.angry ? "angry" : s.label;
    var text = s.angry ? "giận dữ" : SENTI[s.label] || s.label;
    var b = el("span", "senti senti--" + cls, text + " " + Number(s.score).toFixed(2));
    b.setAttribute("data-testid", "sentiment");
    return b;
  }

  function messageNode(m) {
    var node = el("div", "msg msg--" + m.role);
    node.setAttribute("data-testid", "msg-" + m.role);
    node.setAttribute("data-message-id", m.id);
    if (m.role !== "system") {
      var meta = el("div", "msg-meta");
      meta.appendChild(el("span", null, m.role === "agent" && m.agent_name ? m.agent_name : ROLE[m.role]));
      meta.appendChild(el("span", null, new Date(m.created_at).toLocaleTimeString("vi-VN")));
      var b = sentimentBadge(m.sentiment);
      if (b) meta.appendChild(b);
      if (m.while_queued) {
        // What the customer was already told while waiting: the agent should not repeat it.
        var tag = el("span", "tag tag--queued", "trả lời khi khách chờ");
        tag.setAttribute("data-testid", "while-queued");
        meta.appendChild(tag);
      }
      node.appendChild(meta);
    }
    if (m.text) node.appendChild(el("div", "msg-text", m.text));
    var files = attachmentsNode(m);
    if (files) node.appendChild(files);
    if (m.buttons && m.buttons.length) {
      node.appendChild(
        el("div", "msg-meta", "Nút: " + m.buttons.map(function (x) { return x.title; }).join(" · "))
      );
    }
    setDelivery(node, m);
    return node;
  }

  // The delivery line under a message pushed to the customer's channel (outbox).
  function setDelivery(node, m) {
    var old = node.querySelector("[data-testid=delivery-status]");
    if (old) node.removeChild(old);
    var d = m.role !== "user" ? m.delivery : null;
    node.classList.toggle("msg--undelivered", !!d && d.status === "failed");
    if (d) node.appendChild(deliveryNode(d));
  }

  function summaryNode(conv) {
    var h = conv.handoff;
    if (!h || !h.summary) return null;
    var box = el("div", "summary");
    box.setAttribute("data-testid", "summary");
    box.appendChild(el("h3", null, "Tóm tắt cho nhân viên"));
    // The text already lists the facts with their Vietnamese labels ("Thông tin: mã đơn …");
    // it is rebuilt by the hub when the customer adds one, so it is shown as it comes.
    box.appendChild(el("div", null, h.summary.text || ""));
    return box;
  }

  function headNode(conv) {
    var head = el("div", "conv-head");
    var known = customerContact(conv);
    head.appendChild(el("strong", null, "Khách " + (known || conv.external_id.slice(0, 12))));
    head.appendChild(channelBadge(conv));
    var win = windowNode(conv);
    if (win) head.appendChild(win);
    var stateText = {
      bot: "Bot đang trả lời",
      queued: "Đang chờ",
      assigned: "Đang phụ trách: " + (conv.assigned_agent ? conv.assigned_agent.display_name : ""),
    }[conv.state] || conv.state;
    var st = el("span", "badge", stateText);
    st.setAttribute("data-testid", "conv-state");
    head.appendChild(st);
    if (conv.state === "queued" && conv.position) {
      head.appendChild(el("span", "badge badge--pos", "#" + conv.position + " trong hàng chờ"));
    }
    if (conv.handoff) head.appendChild(slaNode(conv));
    if (conv.flag) head.appendChild(el("span", "badge badge--flag", REASONS[conv.flag] || conv.flag));
    var contact = (conv.profile && conv.profile.contact) || null;
    if (contact) {
      var left = (contact.phones || []).concat(contact.emails || []);
      if (left.length) {
        var c = el("span", "badge badge--contact", "Liên hệ: " + left.join(" · "));
        c.setAttribute("data-testid", "conv-contact");
        c.title = "Khách để lại thông tin liên hệ";
        head.appendChild(c);
      }
    }
    if (conv.state === "queued") {
      var claimBtn = el("button", "primary", "Nhận cuộc trò chuyện");
      claimBtn.type = "button";
      claimBtn.addEventListener("click", function () {
        claim(conv.id);
      });
      head.appendChild(claimBtn);
    }
    return head;
  }

  // The open conversation, updated in place: the header and summary are rebuilt, the
  // transcript only gains new messages (and delivery lines), and the composer stays as long
  // as the same agent may act, so a draft, focus and the transfer fields survive live updates.
  var view = { cid: null, head: null, summary: null, tr: null, composer: null, composerKey: null, msgs: {} };

  function renderConversation() {
    var root = $("conversation");
    var data = state.current;
    if (!data) {
      clear(root);
      root.appendChild(el("p", "empty", "Chọn một cuộc trò chuyện trong hàng chờ."));
      view = { cid: null, head: null, summary: null, tr: null, composer: null, composerKey: null, msgs: {} };
      return;
    }
    var conv = data.conversation;
    var fresh = view.cid !== conv.id || !view.tr || !root.contains(view.tr);
    if (fresh) {
      clear(root);
      view = { cid: conv.id, head: null, summary: null, tr: null, composer: null, composerKey: null, msgs: {} };
      view.tr = el("div", "transcript");
      view.tr.setAttribute("data-testid", "transcript");
      root.appendChild(view.tr);
    }
    var tr = view.tr;

    // The header holds the action buttons: rebuild it only when what it shows changed, so
    // a live event (a delivery, a customer line) cannot swap a button out from under a
    // click in progress.
    var headKey = JSON.stringify([
      conv.state, conv.assigned_agent && conv.assigned_agent.id, conv.position, conv.flag,
      conv.team, conv.channel, conv.profile && conv.profile.contact, conv.reply_window_ends_at,
      conv.handoff && [conv.handoff.id, conv.handoff.queued_at, conv.handoff.first_response_at],
    ]);
    if (!view.head || view.headKey !== headKey || !root.contains(view.head)) {
      var head = headNode(conv);
      if (view.head && root.contains(view.head)) root.replaceChild(head, view.head);
      else root.insertBefore(head, root.firstChild);
      view.head = head;
      view.headKey = headKey;
    }

    var summaryKey = JSON.stringify(conv.handoff && conv.handoff.summary);
    if (view.summaryKey !== summaryKey || (view.summary && !root.contains(view.summary))) {
      var summary = summaryNode(conv);
      if (view.summary && root.contains(view.summary)) root.removeChild(view.summary);
      if (summary) root.insertBefore(summary, tr);
      view.summary = summary;
      view.summaryKey = summaryKey;
    }

    var atBottom = tr.scrollHeight - tr.scrollTop - tr.clientHeight < 40;
    var mineAdded = false;
    var prev = null;
    var seen = {};
    data.messages.forEach(function (m) {
      if (!(m.text || (m.buttons && m.buttons.length) || (m.attachments && m.attachments.length))) return;
      seen[m.id] = true;
      var got = view.msgs[m.id];
      var key = JSON.stringify(m.delivery || null);
      if (!got) {
        var node = messageNode(m);
        tr.insertBefore(node, prev ? prev.nextSibling : tr.firstChild);
        got = view.msgs[m.id] = { node: node, key: key };
        if (m.role === "agent" && m.agent_id === state.me.id) mineAdded = true;
      } else if (got.key !== key) {
        setDelivery(got.node, m);
        got.key = key;
      }
      prev = got.node;
    });
    Object.keys(view.msgs).forEach(function (id) {
      if (!seen[id]) {
        var gone = view.msgs[id].node;
        if (gone.parentNode) gone.parentNode.removeChild(gone);
        delete view.msgs[id];
      }
    });

    var key = canAct(conv) ? conv.id + ":" + conv.assigned_agent.id : null;
    if (key !== view.composerKey) {
      var draft = "", focused = false;
      var oldText = view.composer && view.composer.querySelector("[data-testid=reply-text]");
      if (oldText) {
        draft = oldText.value;
        focused = document.activeElement === oldText;
      }
      if (view.composer) root.removeChild(view.composer);
      view.composer = key ? composer(conv) : null;
      view.composerKey = key;
      if (view.composer) {
        root.appendChild(view.composer);
        var t = view.composer.querySelector("[data-testid=reply-text]");
        t.value = draft;
        if (focused) t.focus();
      }
    }
    if (fresh || atBottom || mineAdded) tr.scrollTop = tr.scrollHeight;
  }

  // Kept for callers that re-render on live updates: the renderer keeps the draft itself.
  function renderConversationKeepingDraft() {
    renderConversation();
  }

  function composer(conv) {
    var box = el("form", "composer");
    var canned = el("select");
    canned.setAttribute("data-testid", "canned");
    canned.appendChild(el("option", null, "Câu trả lời mẫu…"));
    state.canned.forEach(function (t) {
      var o = el("option", null, t.length > 80 ? t.slice(0, 80) + "…" : t);
      o.value = t;
      canned.appendChild(o);
    });
    var text = el("textarea");
    text.placeholder = "Nhập câu trả lời cho khách (Enter để gửi, Shift+Enter xuống dòng)";
    text.maxLength = 5000;
    text.setAttribute("data-testid", "reply-text");
    canned.addEventListener("change", function () {
      if (canned.selectedIndex > 0) text.value = canned.value;
      canned.selectedIndex = 0;
      text.focus();
    });
    text.addEventListener("input", function () {
      sendTyping(conv.id, true);
    });
    text.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        box.requestSubmit();
      }
    });
    var send = el("button", "primary", "Gửi");
    send.type = "submit";
    send.setAttribute("data-testid", "reply-send");
    box.addEventListener("submit", function (e) {
      e.preventDefault();
      var value = text.value.trim();
      if (!value || send.disabled) return;
      send.disabled = true;
      api("POST", "/api/console/conversations/" + conv.id + "/reply", { text: value })
        .then(function (res) {
          // Only clear what was sent: the agent may have typed on meanwhile.
          if (text.value.trim() === value) text.value = "";
          sendTyping(conv.id, false);
          applyConversation(res.conversation);
          if (state.current && state.current.conversation.id === conv.id) addMessages([res.message]);
        })
        .catch(function (err) {
          toast(err.message);
        })
        .then(function () {
          send.disabled = false;
        });
    });

    var resolve = el("button", "secondary", "Đã giải quyết");
    resolve.type = "button";
    resolve.setAttribute("data-testid", "resolve");
    resolve.addEventListener("click", function () {
      act(conv.id, "resolve", { note: "" });
    });
    var handback = el("button", "secondary", "Trả về bot");
    handback.type = "button";
    handback.setAttribute("data-testid", "handback");
    handback.addEventListener("click", function () {
      act(conv.id, "handback", { note: "" });
    });

    var target = el("select");
    target.setAttribute("data-testid", "transfer-target");
    target.appendChild(el("option", null, "Chuyển cho…"));
    state.agents.forEach(function (a) {
      if (conv.assigned_agent && a.id === conv.assigned_agent.id) return;
      if (a.active === false) return;
      // The server refuses away or full agents; say so before the click.
      var away = a.status === "away";
      var o = el(
        "option",
        null,
        a.display_name + (a.team ? " (" + a.team + ")" : "") + (away ? " – vắng mặt" : "")
      );
      o.disabled = away;
      o.value = "agent:" + a.id;
      target.appendChild(o);
    });
    var teams = {};
    state.agents.forEach(function (a) {
      if (a.team) teams[a.team] = true;
    });
    Object.keys(teams).forEach(function (t) {
      var o = el("option", null, "Nhóm " + t);
      o.value = "team:" + t;
      target.appendChild(o);
    });
    var note = el("input");
    note.type = "text";
    note.placeholder = "Ghi chú chuyển tiếp";
    note.setAttribute("data-testid", "transfer-note");
    var transfer = el("button", "secondary", "Chuyển");
    transfer.type = "button";
    transfer.setAttribute("data-testid", "transfer");
    transfer.addEventListener("click", function () {
      var v = target.value || "";
      var body = { note: note.value };
      if (v.indexOf("agent:") === 0) body.to_agent_id = Number(v.slice(6));
      else if (v.indexOf("team:") === 0) body.to_team = v.slice(5);
      else return toast("Chọn nhân viên hoặc nhóm nhận.");
      act(conv.id, "transfer", body);
    });

    var row1 = el("div", "row");
    row1.appendChild(canned);
    var row2 = el("div", "row");
    row2.appendChild(send);
    row2.appendChild(resolve);
    row2.appendChild(handback);
    row2.appendChild(target);
    row2.appendChild(note);
    row2.appendChild(transfer);
    box.appendChild(row1);
    box.appendChild(text);
    box.appendChild(row2);
    return box;
  }

  function sendTyping(cid, on) {
    if (!state.socket) return;
    if (state.typingTimer) clearTimeout(state.typingTimer);
    state.socket.emit("typing", { conversation_id: cid, on: on });
    if (on) {
      state.typingTimer = setTimeout(function () {
        state.socket.emit("typing", { conversation_id: cid, on: false });
      }, 2500);
    }
  }

  // Read one conversation (transcript, header) to show it. Live events for it that arrive
  // while the request is in flight are kept and applied on top of the answer.
  function openConversation(cid) {
    var opening = { id: cid, events: [] };
    state.opening = opening;
    return api("GET", "/api/console/conversations/" + cid)
      .then(function (data) {
        if (state.opening !== opening) return; // another conversation was opened meanwhile
        state.opening = null;
        var shown = state.current && state.current.conversation.id === cid ? state.current : null;
        var conv = data.conversation;
        if (isStale(conv)) conv = state.latest[cid]; // an event overtook this answer
        state.current = { conversation: conv, messages: [], events: data.events };
        addMessages(data.messages);
        if (shown) addMessages(shown.messages); // anything that came live meanwhile
        applyConversation(conv);
        opening.events.forEach(handleConversationEvent);
        scheduleRender({ conversation: true, lists: true });
        loadAssist(cid);
        loadEarlier(cid);
      })
      .catch(function (err) {
        if (state.opening === opening) state.opening = null;
        toast(err.message);
      });
  }

  function loadAssist(cid) {
    var box = $("assist");
    api("GET", "/api/console/conversations/" + cid + "/assist")
      .then(function (data) {
        clear(box);
        if (!data.available) {
          box.appendChild(el("p", "muted", "Chưa có chỉ mục kho kiến thức (cskh kb build)."));
          return;
        }
        if (!data.hits.length) box.appendChild(el("p", "muted", "Không có gợi ý."));
        data.hits.forEach(function (h) {
          var card = el("div", "hit");
          card.setAttribute("data-testid", "assist-hit");
          card.appendChild(el("div", "hit-title", h.title + (h.section ? " · " + h.section : "")));
          card.appendChild(el("div", "hit-text", h.text));
          var use = el("button", "secondary", "Chèn vào câu trả lời");
          use.type = "button";
          use.addEventListener("click", function () {
            var t = document.querySelector("[data-testid=reply-text]");
            if (t) t.value = (t.value ? t.value + "\n" : "") + h.text + (h.url ? "\n" + h.url : "");
          });
          card.appendChild(use);
          box.appendChild(card);
        });
      })
      .catch(function () {
        clear(box);
      });
  }

  // The same customer's other conversations (a phone number or e-mail in common), on every
  // channel: the agent need not ask again what the customer already told someone.
  function loadEarlier(cid) {
    var box = $("earlier");
    api("GET", "/api/console/conversations/" + cid + "/earlier")
      .then(function (data) {
        clear(box);
        if (!data.conversations.length) {
          box.appendChild(el("p", "muted", "Chưa thấy lần liên hệ nào khác (theo SĐT/email)."));
          return;
        }
        data.conversations.forEach(function (c) {
          var card = el("div", "hit earlier-item");
          card.setAttribute("data-testid", "earlier-item");
          var head = el("div", "hit-title");
          head.appendChild(channelBadge(c));
          var when = c.updated_at ? new Date(c.updated_at).toLocaleString("vi-VN") : "";
          head.appendChild(el("span", null, " " + when + " · " + c.matched.join(", ")));
          card.appendChild(head);
          card.appendChild(el("div", "hit-text", c.issue || c.last_message || ""));
          var open = el("button", "secondary", "Xem");
          open.type = "button";
          open.addEventListener("click", function () { openConversation(c.id); });
          card.appendChild(open);
          box.appendChild(card);
        });
      })
      .catch(function () {
        clear(box);
      });
  }

  // After a refused action the card may be out of date (someone else was faster): read
  // that one conversation again, not the lists.
  function recheck(cid) {
    return api("GET", "/api/console/conversations/" + cid)
      .then(function (data) {
        applyConversation(data.conversation);
      })
      .catch(function () {});
  }

  function claim(cid) {
    return api("POST", "/api/console/conversations/" + cid + "/claim")
      .then(function (res) {
        applyConversation(res.conversation);
        var shown = state.current && state.current.conversation.id === cid;
        // Shown already: the live event brings the "agent joined" notice.
        if (!shown) return openConversation(cid);
      })
      .catch(function (err) {
        recheck(cid);
        toast(err.message);
      });
  }

  function act(cid, action, body) {
    return api("POST", "/api/console/conversations/" + cid + "/" + action, body)
      .then(function (res) {
        applyConversation(res.conversation);
      })
      .catch(function (err) {
        recheck(cid);
        toast(err.message);
      });
  }

  // ------------------------------------------------------------ supervisor
  function renderStats() {
    var root = $("stats-live");
    api("GET", "/api/console/stats").then(function (s) {
      clear(root);
      var day = s.last_24h;
      var cards = el("div", "cards");
      function card(label, value) {
        var c = el("div", "card");
        c.appendChild(el("b", null, value === null || value === undefined ? "–" : value));
        c.appendChild(el("span", "muted", label));
        c.setAttribute("data-testid", "stat");
        cards.appendChild(c);
      }
      card("Đang chờ", s.states.queued);
      card("Đang phụ trách", s.states.assigned);
      card("Nhân viên trực tuyến", s.agents_online);
      card("Hội thoại (24h)", day.conversations);
      card(
        "Bot tự giải quyết (24h)",
        day.containment_rate === null || day.containment_rate === undefined
          ? null
          : Math.round(day.containment_rate * 100) + "%"
      );
      card("Chuyển nhân viên (24h)", day.handoffs);
      card("Khách tự hủy chờ", day.left_queue);
      card("Chờ trung bình (giây)", day.avg_wait_seconds);
      card("Phản hồi đầu (giây)", day.avg_first_response_seconds);
      card("Quá SLA phản hồi", day.sla_first_response_breaches);
      card("Quá SLA giải quyết", day.sla_resolution_breaches);
      card("CSAT trung bình", day.csat_avg);
      root.appendChild(el("h2", null, "Số liệu 24 giờ qua"));
      root.appendChild(cards);
      var charts = el("div", "charts");
      charts.appendChild(
        barChart(
          "Ai giải quyết hội thoại (24h)",
          [
            ["Bot", day.contained || 0, "bot"],
            ["Nhân viên", (day.conversations || 0) - (day.contained || 0), "person"],
          ],
          "chart-containment"
        )
      );
      charts.appendChild(
        barChart(
          "Lý do chuyển nhân viên (24h)",
          Object.keys(day.reasons || {}).map(function (r) {
            return [REASONS[r] || r, day.reasons[r], r];
          }),
          "chart-reasons"
        )
      );
      charts.appendChild(
        barChart(
          "Phân bố CSAT (24h)",
          ["1", "2", "3", "4", "5"].map(function (n) {
            return [n + " sao", (day.csat_distribution || {})[n] || 0, n];
          }),
          "chart-csat"
        )
      );
      root.appendChild(charts);
      var table = el("table");
      table.setAttribute("data-testid", "agents-table");
      var hr = el("tr");
      ["Nhân viên", "Vai trò", "Trạng thái", "Đang mở / sức chứa", "Đã giải quyết (24h)", "CSAT"].forEach(
        function (h) {
          hr.appendChild(el("th", null, h));
        }
      );
      table.appendChild(hr);
      s.agents.forEach(function (a) {
        var tr = el("tr");
        tr.setAttribute("data-testid", "agent-row");
        tr.appendChild(el("td", null, a.name));
        tr.appendChild(el("td", null, a.role));
        var st = el("td", "status--" + a.status, STATUS[a.status] || a.status);
        st.setAttribute("data-testid", "agent-status");
        tr.appendChild(st);
        var load = el("td", null, a.open + "/" + a.capacity);
        load.setAttribute("data-testid", "agent-load");
        if (a.open >= a.capacity) load.className = "status--away";
        tr.appendChild(load);
        tr.appendChild(el("td", null, a.resolved));
        tr.appendChild(el("td", null, a.csat_avg === null ? "–" : a.csat_avg));
        table.appendChild(tr);
      });
      root.appendChild(table);
    });
  }

  // Content gaps: read when the tab opens, not on every live event like the numbers above
  // (it reads up to a month of messages).
  var GAP_WINDOWS = [7, 30, 90];
  var gapsDays = 30;

  function renderContentGaps() {
    var root = $("content-gaps");
    var days = gapsDays;
    api("GET", "/api/console/content-gaps?days=" + days)
      .then(function (r) {
        if (days !== gapsDays) return; // another window was chosen meanwhile
        clear(root);
        var head = el("div", "gaps-head");
        head.appendChild(el("h2", null, "Nội dung cần bổ sung"));
        var pick = el("select");
        pick.setAttribute("data-testid", "gaps-days");
        pick.setAttribute("aria-label", "Khoảng thời gian");
        GAP_WINDOWS.forEach(function (d) {
          var option = el("option", null, d + " ngày qua");
          option.value = String(d);
          option.selected = d === days;
          pick.appendChild(option);
        });
        pick.addEventListener("change", function () {
          gapsDays = Number(pick.value);
          renderContentGaps();
        });
        head.appendChild(pick);
        root.appendChild(head);
        root.appendChild(
          el(
            "p",
            "muted",
            "Bài viết khách thấy chưa hữu ích hoặc vẫn phải gặp nhân viên, và câu hỏi bot chưa " +
              "trả lời được. Nên viết hoặc sửa trước các dòng đầu."
          )
        );
        if (r.partial) {
          var partial = el("p", "muted", "Chỉ tính " + r.scanned_messages + " tin nhắn gần nhất.");
          partial.setAttribute("data-testid", "gaps-partial");
          root.appendChild(partial);
        }
        root.appendChild(gapsTitle("Bài viết bot đã dùng để trả lời", "articles", days));
        root.appendChild(articleGapsTable(r.articles));
        root.appendChild(gapsTitle("Câu hỏi bot chưa trả lời được", "questions", days));
        root.appendChild(questionGapsTable(r.questions));
      })
      .catch(function (err) {
        clear(root);
        root.appendChild(el("h2", null, "Nội dung cần bổ sung"));
        root.appendChild(el("p", "error", err.message));
      });
  }

  function gapsTitle(text, table, days) {
    var row = el("div", "gaps-title");
    row.appendChild(el("h3", null, text));
    var link = el("a", "gaps-csv", "Tải CSV");
    link.href = "/api/console/content-gaps.csv?table=" + table + "&days=" + days;
    link.setAttribute("download", "");
    link.setAttribute("data-testid", "gaps-csv-" + table);
    row.appendChild(link);
    return row;
  }

  function gapsTable(testid, headers) {
    var table = el("table", "gaps-table");
    table.setAttribute("data-testid", testid);
    var hr = el("tr");
    headers.forEach(function (h) {
      hr.appendChild(el("th", null, h));
    });
    table.appendChild(hr);
    return table;
  }

  function cell(tr, text, testid, cls) {
    var td = el("td", cls, text);
    td.setAttribute("data-testid", testid);
    tr.appendChild(td);
    return td;
  }

  function articleGapsTable(articles) {
    if (!articles.length) {
      var none = el("p", "muted", "Chưa có câu trả lời nào từ trung tâm trợ giúp trong khoảng này.");
      none.setAttribute("data-testid", "gaps-articles-empty");
      return none;
    }
    var table = gapsTable("gaps-articles", [
      "Bài viết",
      "Số lần trả lời",
      "Trả lời chưa chắc chắn",
      "Hữu ích",
      "Chưa hữu ích",
      "Chuyển người sau đó",
    ]);
    articles.forEach(function (a) {
      var tr = el("tr", a.not_helpful + a.handoffs_after > 0 ? "gap--attention" : null);
      tr.setAttribute("data-testid", "gap-article");
      tr.setAttribute("data-article-id", a.article_id);
      var title = cell(tr, null, "gap-title");
      // Only web links: the URL comes from the bot's message.
      if (a.url && /^https?:\/\//i.test(a.url)) {
        var link = el("a", null, a.title);
        link.href = a.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        title.appendChild(link);
      } else {
        title.textContent = a.title;
      }
      cell(tr, a.answers, "gap-answers", "num");
      // Sent with "is this it?" and other titles beside it: the search was not sure.
      cell(tr, a.hedged_answers || 0, "gap-hedged", "num");
      cell(tr, a.helpful, "gap-helpful", "num");
      cell(tr, a.not_helpful, "gap-not-helpful", "num");
      cell(tr, a.handoffs_after, "gap-handoffs", "num");
      table.appendChild(tr);
    });
    return table;
  }

  function questionGapsTable(groups) {
    if (!groups.length) {
      var none = el("p", "muted", "Bot đã trả lời được mọi câu hỏi trong khoảng này.");
      none.setAttribute("data-testid", "gaps-questions-empty");
      return none;
    }
    var table = gapsTable("gaps-questions", ["Số lần hỏi", "Câu hỏi ví dụ", "Cách hỏi khác"]);
    groups.forEach(function (g) {
      var tr = el("tr");
      tr.setAttribute("data-testid", "gap-question");
      cell(tr, g.count, "gap-count", "num").title = g.conversations + " hội thoại";
      cell(tr, g.example, "gap-example");
      var variants = cell(tr, null, "gap-variants", "muted");
      g.variants.forEach(function (v) {
        variants.appendChild(el("div", null, v));
      });
      table.appendChild(tr);
    });
    return table;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (k) {
      node.setAttribute(k, String(attrs[k]));
    });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  // A small horizontal bar chart: rows of [label, value, key]. DOM APIs only, text via
  // textContent (reason codes come from the server but are still treated as text).
  function barChart(title, rows, testid) {
    var box = el("figure", "chart");
    box.setAttribute("data-testid", testid);
    box.appendChild(el("figcaption", null, title));
    if (!rows.length) {
      box.appendChild(el("p", "muted", "Chưa có dữ liệu."));
      return box;
    }
    var rowH = 22, labelW = 170, barW = 200, valueW = 40;
    var max = Math.max.apply(null, rows.map(function (r) { return r[1]; }).concat([1]));
    var chart = svg("svg", {
      width: labelW + barW + valueW,
      height: rows.length * rowH + 4,
      viewBox: "0 0 " + (labelW + barW + valueW) + " " + (rows.length * rowH + 4),
      role: "img",
    });
    chart.appendChild(svg("title", {}, title));
    rows.forEach(function (r, i) {
      var y = i * rowH + 2;
      chart.appendChild(svg("text", { x: labelW - 6, y: y + 15, "text-anchor": "end", class: "chart-label" }, r[0]));
      var w = r[1] > 0 ? Math.max(2, Math.round((r[1] / max) * barW)) : 0;
      var bar = svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 8, rx: 3, class: "chart-bar", "data-key": r[2] });
      bar.setAttribute("data-testid", "bar");
      bar.appendChild(svg("title", {}, r[0] + ": " + r[1]));
      chart.appendChild(bar);
      chart.appendChild(svg("text", { x: labelW + w + 5, y: y + 15, class: "chart-value" }, r[1]));
    });
    box.appendChild(chart);
    return box;
  }

  function showTab(name) {
    $("view-queue").hidden = name !== "queue";
    $("view-stats").hidden = name !== "stats";
    $("tab-queue").classList.toggle("tab--active", name === "queue");
    $("tab-stats").classList.toggle("tab--active", name === "stats");
    if (name === "stats") {
      renderStats();
      renderContentGaps();
    }
  }

  // ----------------------------------------------------------------- live
  function handleConversationEvent(ev) {
    if (!ev || !ev.conversation) return;
    var conv = ev.conversation;
    if (state.opening && state.opening.id === conv.id) state.opening.events.push(ev);
    var shown = state.current && state.current.conversation.id === conv.id;
    if (shown) addMessages(ev.messages || []);
    applyConversation(conv);
    scheduleRender({ stats: true });
  }

  function connect() {
    var socket = window.io("/console", { path: "/socket.io", transports: ["websocket", "polling"] });
    state.socket = socket;
    socket.on("connect", function () {
      $("conn").textContent = "Trực tuyến";
      $("conn").classList.add("conn--ok");
      // Anything may have changed while we were not listening.
      refreshLists();
    });
    socket.on("disconnect", function () {
      $("conn").textContent = "Mất kết nối…";
      $("conn").classList.remove("conn--ok");
    });
    socket.on("connect_error", function (err) {
      $("conn").textContent = "Không kết nối được: " + (err && err.message);
    });
    socket.on("presence", function (p) {
      $("online").textContent = p.online + " nhân viên trực tuyến";
    });
    socket.on("conversation", handleConversationEvent);
    socket.on("delivery", applyDelivery);
    socket.on("agent_status", function (ev) {
      if (state.me && ev.agent_id === state.me.id) showMyStatus(ev.status);
      state.agents.forEach(function (a) {
        if (a.id === ev.agent_id) a.status = ev.status;
      });
      scheduleRender({ stats: true });
    });
  }

  function showMyStatus(status) {
    state.me.status = status;
    var sel = $("my-status");
    sel.value = status;
    sel.classList.toggle("status-select--away", status === "away");
  }

  function start() {
    api("GET", "/api/auth/me").then(function (data) {
      state.me = data.agent;
      $("me").textContent = data.agent.display_name + " · " + (data.agent.role === "supervisor" ? "giám sát" : "nhân viên");
      if (data.agent.role === "supervisor") $("tab-stats").hidden = false;
      showMyStatus(data.agent.status);
      api("GET", "/api/console/agents").then(function (d) {
        state.agents = d.agents;
      });
      api("GET", "/api/console/canned").then(function (d) {
        state.canned = d.replies;
      });
      refreshLists();
      connect();
      // Safety net if a live event was missed; live events do the rest.
      setInterval(refreshLists, SAFETY_REFRESH_MS);
    });
    $("tab-queue").addEventListener("click", function () {
      showTab("queue");
    });
    $("tab-stats").addEventListener("click", function () {
      showTab("stats");
    });
    $("my-status").addEventListener("change", function () {
      var wanted = $("my-status").value;
      api("POST", "/api/console/status", { status: wanted })
        .then(function (d) {
          showMyStatus(d.agent.status);
        })
        .catch(function (err) {
          if (state.me) showMyStatus(state.me.status);
          toast(err.message);
        });
    });
    $("logout").addEventListener("click", function () {
      api("POST", "/api/auth/logout").then(function () {
        location.href = "/console/login";
      });
    });
    // Wait timers and SLA breaches tick without a server round trip.
    setInterval(function () {
      document.querySelectorAll(".sla").forEach(updateSla);
      document.querySelectorAll("[data-testid=reply-window]").forEach(updateWindow);
    }, 1000);
  }

  start();
})();
