/** Tone detection: Goertzel power at one frequency per 20 ms frame, relative to the frame's energy. */

/** Fraction (0..1) of the block's energy found at `frequency` (≈1 for a pure tone at that frequency). */
export function toneRatio(samples: ArrayLike<number>, start: number, length: number, frequency: number, sampleRate: number): number {
  const w = (2 * Math.PI * frequency) / sampleRate;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = start; i < start + length; i++) {
    const x = samples[i]!;
    energy += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  if (energy === 0) return 0;
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return power / ((length / 2) * energy);
}

export interface ToneOptions {
  readonly frameMs?: number;
  /** Minimum fraction of frame energy at the frequency. */
  readonly minRatio?: number;
  /** Minimum RMS (16-bit scale) for a frame to count: silence is not a tone. */
  readonly minRms?: number;
}

/** Seconds of audio in which `frequency` dominates. */
export function toneSeconds(samples: ArrayLike<number>, sampleRate: number, frequency: number, opts: ToneOptions = {}): number {
  const frame = Math.round(((opts.frameMs ?? 20) * sampleRate) / 1000);
  const minRatio = opts.minRatio ?? 0.6;
  const minRms = opts.minRms ?? 200;
  let frames = 0;
  for (let start = 0; start + frame <= samples.length; start += frame) {
    let energy = 0;
    for (let i = start; i < start + frame; i++) energy += samples[i]! * samples[i]!;
    if (Math.sqrt(energy / frame) < minRms) continue;
    if (toneRatio(samples, start, frame, frequency, sampleRate) >= minRatio) frames++;
  }
  return (frames * frame) / sampleRate;
}
