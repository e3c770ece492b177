// AudioWorklet (loaded by voice.js, not imported): the character's voice, gap-free, from a jitter
// buffer. Audio arrives in bursts over the network; playing starts once PREBUFFER_SECONDS are
// queued (or the turn is complete), and an underrun waits for that much again rather than
// stuttering. `clear` (barge-in) drops everything queued at once. Reports what it did ~10 times
// a second: {buffered, played, playing, underruns} in samples.

const PREBUFFER_SECONDS = 0.1;
const REPORT_SECONDS = 0.1;

class Playback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];
    this.offset = 0; // into queue[0]
    this.buffered = 0;
    this.played = 0;
    this.playing = false;
    this.draining = false; // the turn is complete: play what is left however little
    this.underruns = 0;
    this.prebuffer = Math.round(sampleRate * PREBUFFER_SECONDS);
    this.sinceReport = 0;
    this.port.onmessage = (event) => {
      const data = event.data;
      if (data.samples) {
        this.queue.push(data.samples);
        this.buffered += data.samples.length;
      } else if (data.drain) {
        this.draining = true;
      } else if (data.clear) {
        const dropped = this.buffered;
        this.queue = [];
        this.offset = 0;
        this.buffered = 0;
        this.playing = false;
        this.draining = false;
        this.port.postMessage({ cleared: dropped });
        this.report();
      }
    };
  }

  report() {
    this.port.postMessage({ buffered: this.buffered, played: this.played, playing: this.playing, underruns: this.underruns });
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing && this.buffered > 0 && (this.buffered >= this.prebuffer || this.draining)) this.playing = true;
    let i = 0;
    if (this.playing) {
      while (i < out.length && this.queue.length) {
        const head = this.queue[0];
        const n = Math.min(out.length - i, head.length - this.offset);
        out.set(head.subarray(this.offset, this.offset + n), i);
        i += n;
        this.offset += n;
        this.buffered -= n;
        this.played += n;
        if (this.offset === head.length) {
          this.queue.shift();
          this.offset = 0;
        }
      }
      if (!this.queue.length) {
        if (!this.draining && i < out.length) this.underruns += 1;
        this.playing = false;
        this.draining = false;
      }
    }
    out.fill(0, i);
    for (let c = 1; c < outputs[0].length; c += 1) outputs[0][c].set(out);
    this.sinceReport += out.length;
    if (this.sinceReport >= sampleRate * REPORT_SECONDS) {
      this.sinceReport = 0;
      this.report();
    }
    return true;
  }
}

registerProcessor("roleplay-playback", Playback);
