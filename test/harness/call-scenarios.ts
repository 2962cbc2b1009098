/**
 * The call flows of the end-to-end suite as caller/callee sipp scenario pairs. The same pairs run
 * peer-to-peer in the harness self-test (proving the scenarios) and through the b2bua in test/e2e/calls.
 */
import type { PeerSpec } from './call-pair.js';
import type { ToneFiles } from './tones.js';

export interface PairSpec {
  readonly caller: PeerSpec;
  readonly callee: PeerSpec;
}

export interface Tones {
  readonly caller: ToneFiles;
  readonly callee: ToneFiles;
}

const rtp = (t: ToneFiles): string => `${t.ulaw},-1,0`;
const T = 25; // seconds budget for one short call

export const pairs = {
  /** Caller hangs up after 3 s of media both ways; callee rings 500 ms first. */
  basic: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_call.xml', pauseMs: 3000, keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_answer.xml', pauseMs: 500, keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  /** Late offer: the caller's INVITE has no SDP, it answers our offer (in the 200) in its ACK; 3 s of media both ways. */
  lateOffer: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_late_offer.xml', pauseMs: 3000, keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_answer.xml', pauseMs: 500, keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  calleeBye: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_wait_bye.xml', keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_answer_hangup.xml', pauseMs: 2000, keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  earlyMedia: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_early_media.xml', pauseMs: 1500, keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_early_media.xml', pauseMs: 2500, keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  error: (code: number, reason: string): PairSpec => ({
    caller: { scenario: 'uac_expect_error.xml', template: { CODE: code }, keys: { to_user: 'bob' }, maxSeconds: 15 },
    callee: { scenario: 'uas_error.xml', template: { CODE: code, REASON: reason }, maxSeconds: 15 },
  }),
  cancel: (): PairSpec => ({
    caller: { scenario: 'uac_cancel.xml', pauseMs: 1000, keys: { to_user: 'bob' }, maxSeconds: 15 },
    callee: { scenario: 'uas_ring_cancel.xml', maxSeconds: 15 },
  }),
  holdResume: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_hold_resume.xml', pauseMs: 1000, keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_hold_resume.xml', keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  /** Hold with a=inactive (Flexisip's pauseWithAudioInactive): the callee must still get a=sendonly. */
  holdInactive: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_hold_inactive.xml', pauseMs: 1000, keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_hold_resume.xml', keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  bothHold: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_both_hold.xml', keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_both_hold.xml', keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  video: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_video.xml', keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_video.xml', keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  blindRefer: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_refer.xml', keys: { rtp: rtp(t.caller), to_user: 'bob', refer_to: 'sip:carol@127.0.0.1:5999' }, maxSeconds: T },
    callee: { scenario: 'uas_refer.xml', keys: { rtp: rtp(t.callee), refer_user: 'carol' }, maxSeconds: T },
  }),
  /** Blind REFER that the transferee reports declined (sipfrag 603). */
  blindReferDeclined: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_refer.xml', keys: { rtp: rtp(t.caller), to_user: 'bob', refer_to: 'sip:carol@127.0.0.1:5999' }, maxSeconds: T },
    callee: { scenario: 'uas_refer_declined.xml', keys: { rtp: rtp(t.callee), refer_user: 'carol' }, maxSeconds: T },
  }),
  infoDtmf: (t: Tones): PairSpec => ({
    caller: { scenario: 'uac_info_dtmf.xml', keys: { rtp: rtp(t.caller), to_user: 'bob' }, maxSeconds: T },
    callee: { scenario: 'uas_info_dtmf.xml', keys: { rtp: rtp(t.callee) }, maxSeconds: T },
  }),
  /** `calls` calls without media, at most `concurrent` at once, each held `holdMs`. */
  load: (calls: number, concurrent: number, holdMs: number, rate: number): PairSpec => ({
    caller: { scenario: 'uac_quick.xml', calls, concurrent, rate, pauseMs: holdMs, keys: { to_user: 'bob' }, maxSeconds: 90 },
    callee: { scenario: 'uas_quick.xml', calls, concurrent: calls, maxSeconds: 100 },
  }),
};
