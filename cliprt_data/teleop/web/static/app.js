// The cliprt web app: shows the session's state and sends the person's words and choices back.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token");
  let socket = null;
  let state = {};

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = token ? "?token=" + encodeURIComponent(token) : "";
    socket = new WebSocket(scheme + "://" + location.host + "/ws" + query);
    socket.onopen = () => { $("connection").textContent = "connected"; $("connection").className = "good"; };
    socket.onclose = () => {
      $("connection").textContent = "offline (retrying)"; $("connection").className = "bad";
      setTimeout(connect, 1000);
    };
    socket.onmessage = (event) => handle(JSON.parse(event.data));
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function chat(who, text) {
    const line = document.createElement("div");
    line.className = who;
    line.textContent = (who === "you" ? "you: " : "robot: ") + text;
    $("chat").appendChild(line);
    $("chat").scrollTop = $("chat").scrollHeight;
  }

  function showFrames(frames, frameId) {
    const box = $("frames");
    Object.entries(frames || {}).forEach(([name, url]) => {
      let img = $("frame-" + name);
      if (!img) {
        const figure = document.createElement("figure");
        img = document.createElement("img");
        img.id = "frame-" + name;
        img.alt = name + " camera";
        const caption = document.createElement("figcaption");
        caption.textContent = name;
        figure.appendChild(img); figure.appendChild(caption); box.appendChild(figure);
      }
      img.src = url;
      img.dataset.frame = String(frameId);
    });
  }

  function showSteps(steps) {
    const list = $("steps");
    list.innerHTML = "";
    (steps || []).forEach((s) => {
      const item = document.createElement("li");
      item.className = s.kind;
      item.dataset.motion = s.motion;
      item.textContent = s.motion;
      if (s.said) {
        const said = document.createElement("span");
        said.className = "said";
        said.textContent = ' ("' + s.said + '")';
        item.appendChild(said);
      }
      list.appendChild(item);
    });
  }

  function showProposal(proposal) {
    const list = $("proposal");
    list.innerHTML = "";
    (proposal || []).forEach((p) => {
      const item = document.createElement("li");
      item.textContent = p.text + " (" + Number(p.score).toFixed(2) + ")";
      list.appendChild(item);
    });
  }

  function showState(s) {
    state = s;
    $("mode").textContent = s.mode === "policy" ? "watching a policy: correct it in words" : "teleoperation: say each motion";
    $("instruction").textContent = s.instruction || "-";
    $("episode").textContent = s.episode || "-";
    $("step").textContent = s.step || 0;
    $("episodes-saved").textContent = s.episodes_saved || 0;
    $("policy").hidden = s.mode !== "policy";
    $("auto").checked = !!s.auto;
    document.body.dataset.awaiting = s.awaiting || "";
    if (s.awaiting !== "review" && $("translation").className !== "unclear") $("translation").hidden = true;
    showFrames(s.frames, s.frame_id);
    showSteps(s.steps);
    showProposal(s.proposal);
  }

  function showTranslation(t) {
    const box = $("translation");
    box.hidden = false;
    box.className = t.ok ? "" : "unclear";
    $("translation-motion").textContent = t.ok ? t.motion : "(nothing: " + t.message + ")";
    $("translation-note").textContent = t.ok && t.message ? "(" + t.message + ")" : "";
    $("confirm").hidden = !t.ok;
    $("cancel").hidden = !t.ok;
    if (t.ok) $("confirm").focus();
  }

  function handle(m) {
    if (m.type === "state") showState(m);
    else if (m.type === "translation") showTranslation(m);
    else if (m.type === "chat") chat(m.who, m.text);
    else if (m.type === "history") { $("chat").innerHTML = ""; m.chat.forEach((c) => chat(c.who, c.text)); }
  }

  $("say-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("say-input").value.trim();
    if (!text) return;
    $("translation").hidden = true;
    $("translation").className = "";
    send({ type: "say", text: text });
    $("say-input").value = "";
  });
  $("confirm").addEventListener("click", () => { $("translation").hidden = true; send({ type: "confirm" }); });
  $("cancel").addEventListener("click", () => { $("translation").hidden = true; send({ type: "cancel" }); });
  document.querySelectorAll("#commands button").forEach((b) =>
    b.addEventListener("click", () => send({ type: "command", name: b.dataset.command })));
  $("policy-step").addEventListener("click", () => send({ type: "step" }));
  $("auto").addEventListener("change", () => send({ type: "auto", on: $("auto").checked }));
  connect();
})();
