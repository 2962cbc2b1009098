/** G.711 µ-law and A-law codecs (ITU-T G.711), 16-bit linear PCM <-> 8-bit code words. */

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

export function linearToUlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > ULAW_CLIP) s = ULAW_CLIP;
  s += ULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

export function linearToAlaw(sample: number): number {
  let s = Math.max(-32768, Math.min(32767, Math.round(sample)));
  const sign = s >= 0 ? 0x80 : 0;
  if (s < 0) s = -s - 1;
  s >>= 3; // A-law works on 13-bit magnitudes
  let code: number;
  if (s < 32) {
    code = s >> 1;
  } else {
    let exponent = 1;
    while (s >= 64 << (exponent - 1) && exponent < 7) exponent++;
    code = (exponent << 4) | ((s >> exponent) & 0x0f);
  }
  return (code | sign) ^ 0x55;
}

export function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  if (magnitude > 32767) magnitude = 32767;
  return a & 0x80 ? magnitude : -magnitude;
}

export function decodeG711(payload: Uint8Array, law: 'ulaw' | 'alaw'): Int16Array {
  const out = new Int16Array(payload.length);
  const f = law === 'ulaw' ? ulawToLinear : alawToLinear;
  for (let i = 0; i < payload.length; i++) out[i] = f(payload[i]!);
  return out;
}

export function encodeG711(samples: Int16Array, law: 'ulaw' | 'alaw'): Uint8Array {
  const out = new Uint8Array(samples.length);
  const f = law === 'ulaw' ? linearToUlaw : linearToAlaw;
  for (let i = 0; i < samples.length; i++) out[i] = f(samples[i]!);
  return out;
}
