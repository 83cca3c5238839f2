// The audible alarm: a two-tone WebAudio beep (no sound file to download) repeated while any visible
// priority-1 incident waits for acknowledgement. Browsers only start audio after a user gesture, so the
// page asks for one click if the AudioContext is still suspended.

const state = { playing: false, beeps: 0, since: null, restarts: 0 };
let ctx = null;
let timer = null;

function context() {
  if (!ctx) ctx = new AudioContext();
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
  return ctx;
}

function tone(ac, freq, start, length) {
  const osc = ac.createOscillator();
  const gain = ac.createGain();
  osc.type = "square";
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  osc.connect(gain).connect(ac.destination);
  osc.start(start);
  osc.stop(start + length + 0.02);
}

function beep() {
  const ac = context();
  const t0 = ac.currentTime + 0.01;
  tone(ac, 988, t0, 0.22);
  tone(ac, 740, t0 + 0.25, 0.22);
  state.beeps += 1;
}

export function audioState() { return ctx ? ctx.state : "none"; }

/** Unlock audio on the first user gesture; returns whether sound can play now. */
export function unlockAudio() { context(); return audioState() === "running"; }

export function setAlarm(on) {
  if (on && !timer) {
    state.playing = true;
    state.since = Date.now();
    document.body.dataset.alarm = "on";
    beep();
    timer = setInterval(beep, 1200);
  } else if (!on && timer) {
    clearInterval(timer);
    timer = null;
    state.playing = false;
    document.body.dataset.alarm = "off";
  }
}

/** A new emergency while the alarm already sounds: start the pattern again now, so it is heard as new. */
export function restartAlarm() {
  state.restarts += 1;
  state.since = Date.now();
  if (timer) clearInterval(timer);
  state.playing = true;
  document.body.dataset.alarm = "on";
  beep();
  timer = setInterval(beep, 1200);
}

export function alarmState() { return { ...state, audio: audioState() }; }
