/**
 * Answering a digest challenge: from a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) response,
 * the credentials and the request being retried, the header to add (Authorization or
 * Proxy-Authorization) and its value, or why it cannot be answered. Retry limits stay with the callers.
 */
import { digestAuthorization, parseChallenge, type Challenge, type DigestCredentials } from './digest.js';
import type { SipResponse } from './message.js';

export interface ChallengeInput {
  readonly response: Pick<SipResponse, 'status' | 'getAll'>;
  readonly credentials: DigestCredentials;
  readonly method: string;
  readonly uri: string;
  readonly body?: string | undefined;
}

/** `challenge` is absent when the response carries no digest challenge we can parse. */
export type ChallengeAnswer =
  | { readonly ok: true; readonly challenge: Challenge; readonly header: 'authorization' | 'proxy-authorization'; readonly value: string }
  | { readonly ok: false; readonly challenge?: Challenge; readonly error: string };

export function answerChallenge(input: ChallengeInput): ChallengeAnswer {
  const { status } = input.response;
  if (status !== 401 && status !== 407) return { ok: false, error: `a ${status} is not a challenge` };
  const challenge = input.response.getAll(status === 401 ? 'www-authenticate' : 'proxy-authenticate').map(parseChallenge).find((c) => c !== undefined);
  if (!challenge) return { ok: false, error: `no digest challenge in the ${status}` };
  const { credentials, method, uri, body } = input;
  const answer = digestAuthorization({ challenge, credentials, method, uri, ...(body !== undefined ? { body } : {}) });
  if (!answer.ok) return { ok: false, challenge, error: answer.error };
  return { ok: true, challenge, header: status === 401 ? 'authorization' : 'proxy-authorization', value: answer.header };
}
