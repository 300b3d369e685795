// The display board: follows the office's live feed (server-sent events) and keeps the screen
// current. EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed; when
// the connection is closed for good (e.g. the portal restarted), a new one is opened after a pause.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) return;
  var conn = document.getElementById("conn");
  var calls = document.getElementById("last-calls");
  var results = document.getElementById("results-ready");
  var announce = document.getElementById("announce");
  var KEEP_CALLS = 10;
  var source = null;
  var retry = 1000;

  function label(status) {
    if (status === "called") return board.dataset.called;
    if (status === "serving") return board.dataset.serving;
    return board.dataset.free;
  }

  function setOnline(online) {
    conn.textContent = online ? conn.dataset.online : conn.dataset.offline;
    conn.classList.toggle("offline", !online);
    document.body.classList.toggle("disconnected", !online);
  }

  function hhmm(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" });
  }

  function counterTile(c) {
    var tile = board.querySelector('[data-counter="' + c.counter_id + '"]');
    if (!tile) {
      tile = document.createElement("div");
      tile.setAttribute("data-counter", c.counter_id);
      var name = document.createElement("div");
      name.className = "counter-name";
      name.textContent = board.dataset.counterLabel + " " + c.counter_number;
      var number = document.createElement("div");
      number.className = "counter-number";
      number.setAttribute("data-role", "number");
      var status = document.createElement("div");
      status.className = "counter-status";
      status.setAttribute("data-role", "status");
      tile.appendChild(name); tile.appendChild(number); tile.appendChild(status);
      document.getElementById("counters").appendChild(tile);
    }
    tile.className = "counter-tile " + (c.status || "free");
    tile.querySelector('[data-role="number"]').textContent = c.number || "—";
    tile.querySelector('[data-role="status"]').textContent = label(c.status);
    return tile;
  }

  function addCall(number, text, at) {
    var li = document.createElement("li");
    var strong = document.createElement("strong");
    strong.textContent = number;
    var span = document.createElement("span");
    span.textContent = " " + (text || "") + " ";
    var time = document.createElement("time");
    time.textContent = hhmm(at);
    li.appendChild(strong); li.appendChild(span); li.appendChild(time);
    li.className = "new";
    calls.insertBefore(li, calls.firstChild);
    while (calls.children.length > KEEP_CALLS) calls.removeChild(calls.lastChild);
    announce.textContent = text || number;
  }

  function addResult(number) {
    if (results.querySelector('[data-number="' + CSS.escape(number) + '"]')) return;
    var li = document.createElement("li");
    li.setAttribute("data-number", number);
    var strong = document.createElement("strong");
    strong.textContent = number;
    li.appendChild(strong);
    li.className = "new";
    results.insertBefore(li, results.firstChild);
  }

  function removeResult(number) {
    var li = results.querySelector('[data-number="' + CSS.escape(number) + '"]');
    if (li) li.remove();
  }

  function snapshot(state) {
    (state.counters || []).forEach(counterTile);
    calls.textContent = "";
    (state.last_calls || []).slice().reverse().forEach(function (c) { addCall(c.number, c.text, c.at); });
    results.textContent = "";
    (state.results_ready || []).slice().reverse().forEach(function (r) { addResult(r.number); });
    announce.textContent = "";
  }

  function speak(data) {
    var audio = data.announcement && data.announcement.audio_url;
    if (!audio) return;
    var path = audio.replace(/^\/boards\/announcements/, board.dataset.audioBase);
    try {
      var player = new Audio(path);
      var played = player.play();
      if (played && played.catch) played.catch(function () { /* autoplay refused: shown, not spoken */ });
    } catch (e) { /* no audio on this screen */ }
  }

  function parse(event) {
    try { return JSON.parse(event.data); } catch (e) { return null; }
  }

  function connect() {
    source = new EventSource(board.dataset.feed);
    source.addEventListener("open", function () { setOnline(true); retry = 1000; });
    source.addEventListener("snapshot", function (e) { var d = parse(e); if (d) snapshot(d); });
    source.addEventListener("call", function (e) {
      var d = parse(e);
      if (!d) return;
      addCall(d.number, d.text, d.at);
      speak(d);
    });
    source.addEventListener("counter", function (e) { var d = parse(e); if (d) counterTile(d); });
    source.addEventListener("pager", function (e) { var d = parse(e); if (d) addCall(d.number, d.text, d.at); });
    source.addEventListener("result_ready", function (e) { var d = parse(e); if (d) addResult(d.number); });
    source.addEventListener("result_collected", function (e) { var d = parse(e); if (d) removeResult(d.number); });
    source.addEventListener("error", function () {
      setOnline(false);
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 30000);
      }
    });
  }

  connect();
})();
