/*
 * Larkspur web chat widget: a chat panel on Rasa's REST channel. Plain JavaScript, no dependencies.
 *
 *   LarkspurChat.mount(element, {rasaUrl, customerToken, storageKey, timeoutMs, title})
 *
 * or, without any script of your own, an element with a data-larkspur-chat attribute is mounted when the
 * page loads: <div data-larkspur-chat data-rasa-url="..." data-customer-token="..."></div>.
 * Defaults come from window.LARKSPUR_CHAT_CONFIG (the web chat server's /config.js).
 *
 * Bot text is never parsed as HTML: every message is built from DOM nodes and text nodes.
 */
(function () {
  "use strict";

  var DEFAULTS = {
    rasaUrl: "http://127.0.0.1:5005",
    customerToken: null,
    storageKey: "larkspur-chat",
    timeoutMs: 30000,
    maxHistory: 200,
    title: "Larkspur Home support"
  };
  var ERROR_TEXT = "We can't reach the assistant right now. Please try again in a minute.";
  var WELCOME_TEXT = "Ask about an order, a refund, a payment, or our shipping and return policies.";
  var URL_RE = /https?:\/\/[^\s<>"']+/g;
  var TRAILING_PUNCTUATION = /[).,;:!?'"\]]+$/;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  // The conversation key: 32 random bytes, URL-safe base64 (43 characters). The REST webhook refuses ids with
  // fewer than 128 random bits (channels/sessions.py), so a guessable fallback such as Math.random is not used.
  function newSenderId() {
    var bytes = new Uint8Array(32);
    window.crypto.getRandomValues(bytes);
    var binary = Array.prototype.map.call(bytes, function (b) { return String.fromCharCode(b); }).join("");
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function safeHttpUrl(text) {
    try {
      var url = new URL(text);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  /* Storage that never throws (private mode, full quota, disabled storage): the chat still works. */
  function makeStore(key) {
    function read(name) {
      try { return window.localStorage.getItem(key + ":" + name); } catch (e) { return null; }
    }
    function write(name, value) {
      try { window.localStorage.setItem(key + ":" + name, value); } catch (e) { /* not kept */ }
    }
    function remove(name) {
      try { window.localStorage.removeItem(key + ":" + name); } catch (e) { /* nothing to remove */ }
    }
    return {
      senderId: function () {
        var id = read("sender");
        if (!id) { id = newSenderId(); write("sender", id); }
        return id;
      },
      history: function () {
        try {
          var list = JSON.parse(read("history") || "[]");
          return Array.isArray(list) ? list : [];
        } catch (e) {
          return [];
        }
      },
      saveHistory: function (list) { write("history", JSON.stringify(list)); },
      clear: function () { remove("history"); remove("sender"); }
    };
  }

  /* Text with clickable http(s) links and **bold**, newlines as line breaks; text nodes only. */
  function appendInline(parent, text) {
    var parts = text.split(/(\*\*[^*\n]+\*\*)/);
    parts.forEach(function (part) {
      if (!part) return;
      if (part.length > 4 && part.slice(0, 2) === "**" && part.slice(-2) === "**") {
        var strong = el("strong");
        appendLinks(strong, part.slice(2, -2));
        parent.appendChild(strong);
      } else {
        appendLinks(parent, part);
      }
    });
  }

  function appendLinks(parent, text) {
    var last = 0;
    text.replace(URL_RE, function (match, offset) {
      var trailing = (match.match(TRAILING_PUNCTUATION) || [""])[0];
      var candidate = match.slice(0, match.length - trailing.length);
      var href = candidate && safeHttpUrl(candidate);
      if (!href) return match;
      if (offset > last) parent.appendChild(document.createTextNode(text.slice(last, offset)));
      var link = el("a", "lc-link", candidate);
      link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      parent.appendChild(link);
      last = offset + candidate.length;
      return match;
    });
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderText(parent, text) {
    String(text).split("\n").forEach(function (line, i) {
      if (i > 0) parent.appendChild(el("br"));
      appendInline(parent, line);
    });
  }

  function Chat(root, options) {
    this.root = root;
    this.options = options;
    this.rasaUrl = String(options.rasaUrl || DEFAULTS.rasaUrl).replace(/\/+$/, "");
    this.store = makeStore(options.storageKey);
    this.senderId = this.store.senderId();
    this.history = this.store.history();
    this.pending = false;
    this.build();
    this.restore();
  }

  Chat.prototype.build = function () {
    var self = this;
    var uid = "lc-" + Math.random().toString(36).slice(2, 10);
    this.root.classList.add("lc-root");
    this.root.textContent = "";

    var panel = el("section", "lc-panel");
    panel.setAttribute("aria-labelledby", uid + "-title");
    var header = el("header", "lc-header");
    var title = el("h2", "lc-title", this.options.title);
    title.id = uid + "-title";
    this.resetButton = el("button", "lc-reset", "New conversation");
    this.resetButton.type = "button";
    this.resetButton.addEventListener("click", function () { self.reset(); });
    header.appendChild(title);
    header.appendChild(this.resetButton);

    this.log = el("div", "lc-log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-relevant", "additions");
    this.log.setAttribute("aria-label", "Conversation");
    this.log.tabIndex = 0;

    this.welcome = el("p", "lc-welcome", WELCOME_TEXT);

    this.typing = el("div", "lc-typing");
    this.typing.setAttribute("role", "status");
    this.typing.hidden = true;
    var dots = el("span", "lc-dots");
    dots.setAttribute("aria-hidden", "true");
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    this.typing.appendChild(dots);
    this.typing.appendChild(el("span", "lc-sr-only", "The assistant is typing…"));

    this.form = el("form", "lc-form");
    this.form.setAttribute("aria-label", "Send a message to the assistant");
    var label = el("label", "lc-sr-only", "Your message");
    label.htmlFor = uid + "-input";
    this.input = el("input", "lc-input");
    this.input.id = uid + "-input";
    this.input.type = "text";
    this.input.name = "message";
    this.input.autocomplete = "off";
    this.input.maxLength = 1000;
    this.input.placeholder = "Type your message…";
    this.sendButton = el("button", "lc-send", "Send");
    this.sendButton.type = "submit";
    this.form.appendChild(label);
    this.form.appendChild(this.input);
    this.form.appendChild(this.sendButton);
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = self.input.value.trim();
      if (!text || self.pending) return;
      self.input.value = "";
      self.send(text, text);
    });

    panel.appendChild(header);
    panel.appendChild(this.log);
    panel.appendChild(this.typing);
    panel.appendChild(this.form);
    this.root.appendChild(panel);
  };

  Chat.prototype.restore = function () {
    var self = this;
    this.log.textContent = "";
    if (!this.history.length) this.log.appendChild(this.welcome);
    var lastUser = -1;
    this.history.forEach(function (m, i) { if (m.from === "user") lastUser = i; });
    this.history.forEach(function (m, i) { self.render(m, i > lastUser); });
    this.scrollDown();
  };

  Chat.prototype.render = function (message, buttonsActive) {
    var self = this;
    if (this.welcome.parentNode) this.welcome.parentNode.removeChild(this.welcome);
    var fromUser = message.from === "user";
    var row = el("div", "lc-row " + (fromUser ? "lc-row-user" : "lc-row-bot"));
    var bubble = el("div", "lc-bubble " + (fromUser ? "lc-user" : "lc-bot"));
    bubble.appendChild(el("span", "lc-sr-only", fromUser ? "You said: " : "Assistant: "));
    if (message.text) {
      var body = el("div", "lc-text");
      renderText(body, message.text);
      bubble.appendChild(body);
    }
    var image = message.image && safeHttpUrl(message.image);
    if (image) {
      var img = el("img", "lc-image");
      img.src = image;
      img.alt = "Image from the assistant";
      img.loading = "lazy";
      bubble.appendChild(img);
    }
    row.appendChild(bubble);
    if (!fromUser && Array.isArray(message.buttons) && message.buttons.length) {
      var group = el("div", "lc-buttons");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Quick replies");
      message.buttons.forEach(function (b) {
        if (!b || typeof b.title !== "string" || typeof b.payload !== "string") return;
        var button = el("button", "lc-quick", b.title);
        button.type = "button";
        button.disabled = !buttonsActive;
        button.addEventListener("click", function () {
          if (self.pending || button.disabled) return;
          self.send(b.payload, b.title);
          self.input.focus();
        });
        group.appendChild(button);
      });
      row.appendChild(group);
    }
    if (!message.text && !image && !row.querySelector(".lc-quick")) return null;
    this.log.appendChild(row);
    return row;
  };

  Chat.prototype.disableQuickReplies = function () {
    Array.prototype.forEach.call(this.log.querySelectorAll(".lc-quick"), function (b) { b.disabled = true; });
  };

  Chat.prototype.scrollDown = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  Chat.prototype.setPending = function (pending) {
    this.pending = pending;
    this.typing.hidden = !pending;
    this.sendButton.disabled = pending;
    this.form.setAttribute("aria-busy", pending ? "true" : "false");
    this.root.classList.toggle("lc-waiting", pending);
  };

  Chat.prototype.remember = function (message) {
    this.history.push(message);
    if (this.history.length > this.options.maxHistory) {
      this.history = this.history.slice(-this.options.maxHistory);
    }
    this.store.saveHistory(this.history);
  };

  /* Send `message` (text or a button's payload) to Rasa, showing `shown` as the shopper's bubble. */
  Chat.prototype.send = function (message, shown) {
    this.disableQuickReplies();
    var userMessage = { from: "user", text: shown, ts: Date.now() };
    var row = this.render(userMessage, false);
    this.scrollDown();
    this.deliver(message, userMessage, row);
  };

  Chat.prototype.deliver = function (message, userMessage, row) {
    var self = this;
    var conversation = this.senderId;
    this.clearError();
    this.setPending(true);
    this.scrollDown();
    var metadata = {};
    if (typeof this.options.customerToken === "string" && this.options.customerToken) {
      metadata.customer_token = this.options.customerToken;
    }
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, this.options.timeoutMs);
    fetch(this.rasaUrl + "/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ sender: conversation, message: message, metadata: metadata }),
      signal: controller ? controller.signal : undefined,
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    }).then(function (replies) {
      if (!Array.isArray(replies)) throw new Error("unexpected answer");
      if (conversation !== self.senderId) return; // the shopper started a new conversation meanwhile
      clearTimeout(timer);
      self.setPending(false);
      if (row) row.classList.remove("lc-failed");
      self.remember(userMessage);
      replies.forEach(function (reply) {
        if (!reply || typeof reply !== "object") return;
        var botMessage = {
          from: "bot",
          text: typeof reply.text === "string" ? reply.text : "",
          buttons: Array.isArray(reply.buttons) ? reply.buttons.map(function (b) {
            return { title: String(b && b.title != null ? b.title : ""), payload: String(b && b.payload != null ? b.payload : "") };
          }) : [],
          image: typeof reply.image === "string" ? reply.image : null,
          ts: Date.now()
        };
        if (self.render(botMessage, true)) self.remember(botMessage);
      });
      self.scrollDown();
    }).catch(function () {
      clearTimeout(timer);
      if (conversation !== self.senderId) return;
      self.setPending(false);
      if (row) row.classList.add("lc-failed");
      self.showError(function () { self.deliver(message, userMessage, row); });
    });
  };

  Chat.prototype.showError = function (retry) {
    var self = this;
    var box = el("div", "lc-row lc-row-bot lc-error-row");
    var bubble = el("div", "lc-bubble lc-error");
    bubble.setAttribute("role", "alert");
    bubble.appendChild(el("p", "lc-error-text", ERROR_TEXT));
    var button = el("button", "lc-retry", "Try again");
    button.type = "button";
    button.addEventListener("click", function () {
      self.input.focus();
      retry();
    });
    bubble.appendChild(button);
    box.appendChild(bubble);
    this.log.appendChild(box);
    this.errorRow = box;
    this.scrollDown();
  };

  Chat.prototype.clearError = function () {
    if (this.errorRow && this.errorRow.parentNode) this.errorRow.parentNode.removeChild(this.errorRow);
    this.errorRow = null;
  };

  Chat.prototype.reset = function () {
    this.store.clear();
    this.senderId = this.store.senderId();
    this.history = [];
    this.errorRow = null;
    this.setPending(false);
    this.restore();
    this.input.value = "";
    this.input.focus();
  };

  function readConfig(element, options) {
    var global = window.LARKSPUR_CHAT_CONFIG && typeof window.LARKSPUR_CHAT_CONFIG === "object" ? window.LARKSPUR_CHAT_CONFIG : {};
    var data = element.dataset || {};
    var merged = {};
    Object.keys(DEFAULTS).forEach(function (k) { merged[k] = DEFAULTS[k]; });
    ["rasaUrl", "title", "storageKey"].forEach(function (k) { if (global[k]) merged[k] = global[k]; });
    if (data.rasaUrl) merged.rasaUrl = data.rasaUrl;
    if (data.customerToken) merged.customerToken = data.customerToken;
    if (data.storageKey) merged.storageKey = data.storageKey;
    if (data.title) merged.title = data.title;
    Object.keys(options || {}).forEach(function (k) {
      if (options[k] !== undefined && options[k] !== null && options[k] !== "") merged[k] = options[k];
    });
    merged.timeoutMs = Number(merged.timeoutMs) > 0 ? Number(merged.timeoutMs) : DEFAULTS.timeoutMs;
    merged.maxHistory = Number(merged.maxHistory) > 0 ? Number(merged.maxHistory) : DEFAULTS.maxHistory;
    return merged;
  }

  /* Mount the chat into `element` (an element or a CSS selector); returns the chat instance. */
  function mount(element, options) {
    if (typeof element === "string") element = document.querySelector(element);
    if (!element) throw new Error("LarkspurChat.mount: no element to mount into");
    if (element.larkspurChat) return element.larkspurChat;
    var chat = new Chat(element, readConfig(element, options));
    element.larkspurChat = chat;
    element.setAttribute("data-larkspur-mounted", "");
    return chat;
  }

  function autoMount() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-larkspur-chat]"), function (node) {
      if (!node.larkspurChat) mount(node);
    });
  }

  window.LarkspurChat = { mount: mount, version: "1.0.0" };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoMount);
  } else {
    autoMount();
  }
})();
