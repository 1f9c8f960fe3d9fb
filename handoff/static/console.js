/*
 * Agent console: live queue, claim, summary on top, transcript with per-message sentiment,
 * KB suggestions, canned replies, transfer/resolve/hand back, supervisor numbers.
 * Data over the JSON API (cookie session + X-Requested-With), live updates over socket.io
 * namespace /console. All content goes through textContent: customers can type markup.
 */
(function () {
  "use strict";

  var REASONS = {
    angry: "Bức xúc",
    negative_trend: "Tiêu cực kéo dài",
    requested: "Muốn gặp nhân viên",
    bot_failed: "Bot không giải quyết được",
    complex: "Vấn đề phức tạp",
    vip: "VIP",
    bot_unavailable: "Bot gặp sự cố",
  };
  var SENTI = { positive: "tích cực", neutral: "trung tính", negative: "tiêu cực" };
  var ROLE = { user: "Khách", bot: "Bot", agent: "Nhân viên", system: "Hệ thống" };
  var STATUS = { online: "Trực tuyến", away: "Vắng mặt" };

  var state = {
    me: null,
    queue: [],
    mine: [],
    sla: { first_response_seconds: 120, resolution_seconds: 1800 },
    current: null, // {conversation, messages, events}
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

  function toast(text) {
    var t = el("div", "msg msg--system", text);
    var tr = document.querySelector(".transcript");
    if (tr) {
      tr.appendChild(t);
      tr.scrollTop = tr.scrollHeight;
    } else {
      alert(text);
    }
  }

  // ----------------------------------------------------------------- lists
  function slaNode(conv) {
    var h = conv.handoff;
    var span = el("span", "sla");
    span.setAttribute("data-sla-queued", h ? h.queued_at : "");
    span.setAttribute("data-sla-first", h && h.first_response_at ? "1" : "");
    updateSla(span);
    return span;
  }

  function updateSla(span) {
    var queuedAt = span.getAttribute("data-sla-queued");
    if (!queuedAt) return;
    var waited = since(queuedAt);
    var responded = span.getAttribute("data-sla-first") === "1";
    var target = responded ? state.sla.resolution_seconds : state.sla.first_response_seconds;
    var breach = waited > target;
    span.textContent =
      (responded ? "Mở " : "Chờ ") + fmtDuration(waited) + (breach ? " · quá SLA" : "");
    span.classList.toggle("sla--breach", breach);
    span.title = "SLA " + (responded ? "giải quyết " : "phản hồi đầu tiên ") + fmtDuration(target);
  }

  function itemNode(conv, withClaim) {
    var li = el("li", "item");
    li.setAttribute("data-testid", withClaim ? "queue-item" : "mine-item");
    li.setAttribute("data-id", conv.id);
    if (state.current && state.current.conversation.id === conv.id) li.classList.add("item--active");
    var head = el("div", "item-head");
    var p = Math.min(conv.priority || 0, 5);
    head.appendChild(el("span", "badge badge--p" + p, "Ưu tiên " + (conv.priority || 0)));
    var reasons = (conv.handoff && conv.handoff.reasons) || [];
    reasons.forEach(function (r) {
      head.appendChild(el("span", "badge badge--reason", REASONS[r] || r));
    });
    if (conv.flag) head.appendChild(el("span", "badge badge--flag", REASONS[conv.flag] || conv.flag));
    if (conv.team) head.appendChild(el("span", "badge", "Nhóm " + conv.team));
    head.appendChild(el("span", "badge", conv.channel));
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
    li.appendChild(el("div", "item-text", conv.last_message || ""));
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

  function renderLists() {
    var q = $("queue");
    clear(q);
    state.queue.forEach(function (c) {
      q.appendChild(itemNode(c, true));
    });
    if (!state.queue.length) q.appendChild(el("li", "muted", "Không có khách đang chờ."));
    $("queue-count").textContent = state.queue.length ? String(state.queue.length) : "";
    var m = $("mine");
    clear(m);
    state.mine.forEach(function (c) {
      m.appendChild(itemNode(c, false));
    });
    if (!state.mine.length) m.appendChild(el("li", "muted", "Chưa có."));
    document.title = (state.queue.length ? "(" + state.queue.length + ") " : "") + "Bảng điều khiển CSKH";
  }

  function refreshLists() {
    return Promise.all([api("GET", "/api/console/queue"), api("GET", "/api/console/mine")]).then(
      function (res) {
        state.queue = res[0].queue;
        state.sla = res[0].sla;
        $("online").textContent = res[0].agents_online + " nhân viên trực tuyến";
        state.mine = res[1].conversations;
        renderLists();
      }
    );
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
    if (m.role !== "system") {
      var meta = el("div", "msg-meta");
      meta.appendChild(el("span", null, m.role === "agent" && m.agent_name ? m.agent_name : ROLE[m.role]));
      meta.appendChild(el("span", null, new Date(m.created_at).toLocaleTimeString("vi-VN")));
      var b = sentimentBadge(m.sentiment);
      if (b) meta.appendChild(b);
      node.appendChild(meta);
    }
    node.appendChild(el("div", "msg-text", m.text));
    if (m.buttons && m.buttons.length) {
      node.appendChild(
        el("div", "msg-meta", "Nút: " + m.buttons.map(function (x) { return x.title; }).join(" · "))
      );
    }
    return node;
  }

  function summaryNode(conv) {
    var h = conv.handoff;
    if (!h || !h.summary) return null;
    var box = el("div", "summary");
    box.setAttribute("data-testid", "summary");
    box.appendChild(el("h3", null, "Tóm tắt cho nhân viên"));
    box.appendChild(el("div", null, h.summary.text || ""));
    var facts = h.summary.facts || {};
    var parts = [];
    Object.keys(facts).forEach(function (k) {
      var v = facts[k];
      if (Array.isArray(v) && v.length) parts.push(k + ": " + v.join(", "));
    });
    if (parts.length) box.appendChild(el("div", "facts", parts.join(" · ")));
    return box;
  }

  function renderConversation() {
    var root = $("conversation");
    clear(root);
    var data = state.current;
    if (!data) {
      root.appendChild(el("p", "empty", "Chọn một cuộc trò chuyện trong hàng chờ."));
      return;
    }
    var conv = data.conversation;
    var head = el("div", "conv-head");
    head.appendChild(el("strong", null, "Khách " + conv.external_id.slice(0, 12)));
    head.appendChild(el("span", "badge", conv.channel));
    var stateText = {
      bot: "Bot đang trả lời",
      queued: "Đang chờ",
      assigned: "Đang phụ trách: " + (conv.assigned_agent ? conv.assigned_agent.display_name : ""),
    }[conv.state] || conv.state;
    var st = el("span", "badge", stateText);
    st.setAttribute("data-testid", "conv-state");
    head.appendChild(st);
    if (conv.handoff) head.appendChild(slaNode(conv));
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
    root.appendChild(head);
    var summary = summaryNode(conv);
    if (summary) root.appendChild(summary);

    var tr = el("div", "transcript");
    tr.setAttribute("data-testid", "transcript");
    data.messages.forEach(function (m) {
      if (m.text || (m.buttons && m.buttons.length)) tr.appendChild(messageNode(m));
    });
    root.appendChild(tr);
    if (canAct(conv)) root.appendChild(composer(conv));
    tr.scrollTop = tr.scrollHeight;
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
      if (!value) return;
      send.disabled = true;
      api("POST", "/api/console/conversations/" + conv.id + "/reply", { text: value })
        .then(function () {
          text.value = "";
          sendTyping(conv.id, false);
          return openConversation(conv.id);
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

  function openConversation(cid) {
    return api("GET", "/api/console/conversations/" + cid)
      .then(function (data) {
        state.current = data;
        renderConversation();
        renderLists();
        loadAssist(cid);
      })
      .catch(function (err) {
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

  function claim(cid) {
    return api("POST", "/api/console/conversations/" + cid + "/claim")
      .then(function () {
        return refreshLists().then(function () {
          return openConversation(cid);
        });
      })
      .catch(function (err) {
        refreshLists();
        toast(err.message);
      });
  }

  function act(cid, action, body) {
    return api("POST", "/api/console/conversations/" + cid + "/" + action, body)
      .then(function () {
        return refreshLists().then(function () {
          return openConversation(cid);
        });
      })
      .catch(function (err) {
        toast(err.message);
      });
  }

  // ------------------------------------------------------------ supervisor
  function renderStats() {
    var root = $("view-stats");
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
    if (name === "stats") renderStats();
  }

  // ----------------------------------------------------------------- live
  function connect() {
    var socket = window.io("/console", { path: "/socket.io", transports: ["websocket", "polling"] });
    state.socket = socket;
    socket.on("connect", function () {
      $("conn").textContent = "Trực tuyến";
      $("conn").classList.add("conn--ok");
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
    socket.on("queue", function () {
      refreshLists();
      if (!$("view-stats").hidden) renderStats();
    });
    socket.on("conversation", function (ev) {
      refreshLists();
      if (ev && state.current && ev.conversation_id === state.current.conversation.id) {
        // e.g. the customer left a contact: refresh the header, keep the draft.
        api("GET", "/api/console/conversations/" + ev.conversation_id).then(function (data) {
          state.current = data;
          renderConversationKeepingDraft();
        });
      }
    });
    socket.on("agent_status", function (ev) {
      if (state.me && ev.agent_id === state.me.id) showMyStatus(ev.status);
      if (!$("view-stats").hidden) renderStats();
    });
    socket.on("message", function (ev) {
      if (state.current && ev.conversation_id === state.current.conversation.id) {
        var known = state.current.messages.some(function (m) {
          return m.id === ev.message.id;
        });
        if (!known) {
          state.current.messages.push(ev.message);
          renderConversationKeepingDraft();
        }
      }
      refreshLists();
    });
  }

  function renderConversationKeepingDraft() {
    // A live message must not wipe what the agent is typing.
    var t = document.querySelector("[data-testid=reply-text]");
    var draft = t ? t.value : "";
    var focused = t && document.activeElement === t;
    renderConversation();
    var t2 = document.querySelector("[data-testid=reply-text]");
    if (t2) {
      t2.value = draft;
      if (focused) t2.focus();
    }
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
    }, 1000);
    // Safety net if a live event was missed (e.g. during a reconnect).
    setInterval(refreshLists, 30000);
  }

  start();
})();
