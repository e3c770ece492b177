// AudioWorklet (loaded by voice.js, not imported): the microphone at the audio context's own rate
// (the device's) -> PCM16 little-endian frames of 20 ms, posted to the page, and a level ~20 times
// a second for the meter. `send: false` (muted, or push-to-talk released) keeps the level going
// but sends no audio.

const FRAME_SECONDS = 0.02;
const LEVEL_SECONDS = 0.05;

class Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.round(sampleRate * FRAME_SECONDS);
    this.frame = new Int16Array(this.size);
    this.filled = 0;
    this.send = true;
    this.sum = 0;
    this.counted = 0;
    this.levelEvery = Math.round(sampleRate * LEVEL_SECONDS);
    this.port.onmessage = (event) => {
      if ("send" in event.data) {
        this.send = Boolean(event.data.send);
        this.filled = 0; // a frame never mixes audio from before and after a switch
      }
    };
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i += 1) {
      const sample = Math.max(-1, Math.min(1, channel[i]));
      this.sum += sample * sample;
      this.counted += 1;
      if (this.counted === this.levelEvery) {
        this.port.postMessage({ level: Math.sqrt(this.sum / this.counted) });
        this.sum = 0;
        this.counted = 0;
      }
      if (!this.send) continue;
      this.frame[this.filled] = sample < 0 ? sample * 0x8000 : sample * 0x7fff;
      this.filled += 1;
      if (this.filled === this.size) {
        const full = this.frame;
        this.port.postMessage({ pcm: full.buffer }, [full.buffer]); // transferred: `full` is empty now
        this.frame = new Int16Array(this.size);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("roleplay-capture", Capture);
