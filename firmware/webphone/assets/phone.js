// OpenBorder web phone: JsSIP over WebSocket to sbcd. Everything a page
// test needs is on window.phone (register, call, answer, hangup, hold,
// unhold, mute, unmute, dtmf, stats, state, events).
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const phone = {
    state: 'idle', registration: 'unregistered', cause: '', events: [],
    ua: null, session: null, iceServers: [], config: {},
  };
  window.phone = phone;

  function log(msg) {
    const line = new Date().toISOString().slice(11, 23) + ' ' + msg;
    phone.events.push(msg);
    if (phone.events.length > 200) phone.events.shift();
    const el = $('log');
    el.textContent = (line + '\n' + el.textContent).slice(0, 8000);
  }

  function setState(s, cause) {
    phone.state = s;
    if (cause !== undefined) phone.cause = cause;
    $('state').textContent = s + (phone.cause && (s === 'ended' || s === 'failed') ? ' (' + phone.cause + ')' : '');
    log('call ' + s + (cause ? ' ' + cause : ''));
    buttons();
  }

  function buttons() {
    const s = phone.session;
    const live = s && !s.isEnded();
    $('call').disabled = !phone.ua || !!live;
    $('answer').disabled = !(live && phone.state === 'incoming');
    $('hangup').disabled = !live;
    $('hold').disabled = !(live && phone.state !== 'incoming' && phone.state !== 'calling');
    $('mute').disabled = $('hold').disabled;
    $('hold').textContent = live && s.isOnHold().local ? 'Resume' : 'Hold';
    $('mute').textContent = live && s.isMuted().audio ? 'Unmute' : 'Mute';
    $('unregister').disabled = !phone.ua;
  }

  // Audio meters: an analyser on the microphone track and one on the
  // remote track; peak() also reports the loudest frequency.
  let audioCtx = null;
  const meters = { mic: null, spk: null };
  function analyser(track) {
    if (!audioCtx) audioCtx = new AudioContext();
    if (audioCtx.state === 'suspended') audioCtx.resume();
    const src = audioCtx.createMediaStreamSource(new MediaStream([track]));
    const an = audioCtx.createAnalyser();
    an.fftSize = 4096;
    src.connect(an);
    return an;
  }
  function level(an) {
    if (!an) return { rms: 0, peakHz: 0 };
    const t = new Float32Array(an.fftSize);
    an.getFloatTimeDomainData(t);
    let sum = 0;
    for (const v of t) sum += v * v;
    const f = new Float32Array(an.frequencyBinCount);
    an.getFloatFrequencyData(f);
    let best = 1;
    for (let i = 2; i < f.length; i++) if (f[i] > f[best]) best = i;
    return { rms: Math.sqrt(sum / t.length), peakHz: best * an.context.sampleRate / an.fftSize };
  }
  setInterval(() => {
    $('micLevel').style.width = Math.min(100, level(meters.mic).rms * 300) + '%';
    $('spkLevel').style.width = Math.min(100, level(meters.spk).rms * 300) + '%';
  }, 200);

  function attach(pc) {
    pc.addEventListener('track', (e) => {
      const stream = e.streams[0] || new MediaStream([e.track]);
      // Chrome feeds a remote WebRTC track to Web Audio only while a
      // media element plays it.
      $('remote').srcObject = stream;
      $('remote').play().catch(() => {});
      meters.spk = analyser(e.track);
      log('remote audio track');
    });
    pc.addEventListener('iceconnectionstatechange', () => log('ice ' + pc.iceConnectionState));
  }

  function watch(session) {
    phone.session = session;
    session.on('peerconnection', (e) => attach(e.peerconnection));
    // JsSIP sends its SDP when ICE gathering completes, which waits for
    // every TURN server, reachable or not. Send it once candidates have
    // been quiet for half a second instead.
    let iceQuiet = null;
    session.on('icecandidate', (e) => {
      clearTimeout(iceQuiet);
      iceQuiet = setTimeout(e.ready, 500);
    });
    phone.sdp = {};
    session.on('sdp', (e) => { phone.sdp[e.originator + '_' + e.type] = e.sdp; });
    session.on('peerconnection:setremotedescriptionfailed', (e) => log('remote SDP refused: ' + e));
    if (session.connection) attach(session.connection);
    session.on('progress', () => setState(session.direction === 'incoming' ? 'incoming' : 'ringing'));
    session.on('accepted', () => setState('answered'));
    session.on('confirmed', () => {
      setState('confirmed');
      const sender = session.connection.getSenders().find((s) => s.track && s.track.kind === 'audio');
      if (sender) meters.mic = analyser(sender.track);
    });
    session.on('hold', (e) => { log('hold ' + e.originator); buttons(); });
    session.on('unhold', (e) => { log('unhold ' + e.originator); buttons(); });
    session.on('muted', () => buttons());
    session.on('unmuted', () => buttons());
    session.on('newDTMF', (e) => log('dtmf ' + e.originator + ' ' + e.dtmf.tone));
    session.on('ended', (e) => { setState('ended', e.cause); meters.spk = meters.mic = null; });
    session.on('failed', (e) => { setState('failed', e.cause); meters.spk = meters.mic = null; });
  }

  async function turnServers(user) {
    const token = $('token').value.trim();
    const path = phone.config.turn_credentials;
    if (!token || !path) return [];
    try {
      const r = await fetch(path + '?user=' + encodeURIComponent(user),
        { headers: { Authorization: 'Bearer ' + token } });
      if (!r.ok) { log('TURN credentials refused: ' + r.status); return []; }
      const c = await r.json();
      log('TURN credentials until ' + c.expires);
      return [{ urls: c.uris, username: c.username, credential: c.password }];
    } catch (e) {
      log('TURN credentials: ' + e);
      return [];
    }
  }

  // processing=0 turns echo cancelling, noise suppression and gain control
  // off (measurements want the microphone's signal as it is).
  function media() {
    if (params.get('processing') === '0') {
      return { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false }, video: false };
    }
    return { audio: true, video: false };
  }

  function pcConfig() {
    const c = { iceServers: phone.iceServers, rtcpMuxPolicy: 'require', bundlePolicy: 'balanced' };
    if (params.get('relay') === '1') c.iceTransportPolicy = 'relay';
    return c;
  }

  phone.register = async function () {
    if (phone.ua) phone.ua.stop();
    const user = $('user').value.trim();
    const domain = $('domain').value.trim();
    const ws = $('ws').value.trim();
    if (!user || !domain || !ws) throw new Error('user, domain and WebSocket are required');
    phone.iceServers = await turnServers(user);
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(ws)],
      uri: 'sip:' + user + '@' + domain,
      password: $('password').value || undefined,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'OpenBorder web phone',
    });
    phone.ua = ua;
    ua.on('connected', () => log('websocket connected'));
    ua.on('disconnected', () => log('websocket disconnected'));
    ua.on('registered', () => { phone.registration = 'registered'; $('regstate').textContent = 'registered as ' + user; log('registered'); buttons(); });
    ua.on('unregistered', () => { phone.registration = 'unregistered'; $('regstate').textContent = 'not registered'; buttons(); });
    ua.on('registrationFailed', (e) => { phone.registration = 'failed: ' + e.cause; $('regstate').textContent = phone.registration; log('registration failed ' + e.cause); });
    ua.on('newRTCSession', (e) => {
      if (e.originator !== 'remote') return;
      if (phone.session && !phone.session.isEnded()) { e.session.terminate({ status_code: 486 }); return; }
      watch(e.session);
      setState('incoming');
      if (params.get('autoanswer') === '1') phone.answer();
    });
    ua.start();
    buttons();
  };

  phone.unregister = function () {
    if (phone.ua) { phone.ua.stop(); phone.ua = null; }
    buttons();
  };

  phone.call = function (target) {
    target = target || $('target').value.trim();
    if (!phone.ua || !target) throw new Error('register and enter a number first');
    const uri = target.includes('@') ? target : target + '@' + $('domain').value.trim();
    setState('calling', '');
    watch(phone.ua.call('sip:' + uri, {
      mediaConstraints: media(),
      pcConfig: pcConfig(),
      rtcOfferConstraints: { offerToReceiveAudio: true },
    }));
  };

  phone.answer = function () {
    if (!phone.session) return;
    phone.session.answer({ mediaConstraints: media(), pcConfig: pcConfig() });
  };
  phone.hangup = function () { if (phone.session && !phone.session.isEnded()) phone.session.terminate(); };
  phone.hold = function () { if (phone.session) phone.session.hold(); };
  phone.unhold = function () { if (phone.session) phone.session.unhold(); };
  // restartIce renegotiates with new ICE credentials (after a network change).
  phone.restartIce = function () {
    if (phone.session) phone.session.renegotiate({ rtcOfferConstraints: { iceRestart: true } });
  };
  phone.mute = function () { if (phone.session) phone.session.mute({ audio: true }); };
  phone.unmute = function () { if (phone.session) phone.session.unmute({ audio: true }); };
  phone.dtmf = function (digits) {
    if (!phone.session) return;
    const sender = phone.session.connection &&
      phone.session.connection.getSenders().find((s) => s.dtmf && s.dtmf.canInsertDTMF);
    phone.session.sendDTMF(digits, { transportType: sender ? 'RFC2833' : 'INFO', duration: 120, interToneGap: 80 });
  };

  // stats sums the call's RTP counters from getStats and adds what the
  // analysers hear.
  phone.stats = async function () {
    const out = { state: phone.state, packetsReceived: 0, packetsSent: 0, bytesReceived: 0,
      audioLevel: 0, totalAudioEnergy: 0, codec: '', pair: '', local: {}, remote: {} };
    const pc = phone.session && phone.session.connection;
    if (pc) {
      const rep = await pc.getStats();
      rep.forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          out.packetsReceived += s.packetsReceived || 0;
          out.bytesReceived += s.bytesReceived || 0;
          out.audioLevel = Math.max(out.audioLevel, s.audioLevel || 0);
          out.totalAudioEnergy += s.totalAudioEnergy || 0;
          if (s.codecId && rep.get(s.codecId)) out.codec = rep.get(s.codecId).mimeType;
        }
        if (s.type === 'outbound-rtp' && s.kind === 'audio') out.packetsSent += s.packetsSent || 0;
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
          const l = rep.get(s.localCandidateId);
          const r = rep.get(s.remoteCandidateId);
          out.pair = (l ? l.candidateType : '?') + '->' + (r ? r.candidateType : '?');
        }
      });
    }
    out.local = level(meters.mic);
    out.remote = level(meters.spk);
    return out;
  };

  // Page wiring.
  $('register').onclick = () => phone.register().catch((e) => log(String(e)));
  $('unregister').onclick = () => phone.unregister();
  $('call').onclick = () => { try { phone.call(); } catch (e) { log(String(e)); } };
  $('answer').onclick = () => phone.answer();
  $('hangup').onclick = () => phone.hangup();
  $('hold').onclick = () => (phone.session.isOnHold().local ? phone.unhold() : phone.hold());
  $('mute').onclick = () => (phone.session.isMuted().audio ? phone.unmute() : phone.mute());
  for (const k of '123456789*0#') {
    const b = document.createElement('button');
    b.textContent = k;
    b.onclick = () => phone.dtmf(k);
    $('keypad').appendChild(b);
  }

  phone.ready = fetch('config.json').then((r) => r.json()).catch(() => ({})).then((cfg) => {
    phone.config = cfg;
    $('ws').value = params.get('ws') || cfg.websocket_url || '';
    $('domain').value = params.get('domain') || cfg.domain || location.hostname;
    $('user').value = params.get('user') || '';
    $('target').value = params.get('target') || '';
    buttons();
    if (params.get('register') === '1') return phone.register();
  });
})();
