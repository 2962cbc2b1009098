import assert from 'node:assert/strict';
import { describePipeline, elementNames, shapeKey } from '../../../core/media/worker/pipeline-description.js';

describe('media worker pipeline description', () => {
  it('bridges both legs of a muxed stream through decrypt -> gate -> encrypt -> socket sink', () => {
    const d = describePipeline([{ index: 0, a: { rtcpMux: true }, b: { rtcpMux: true } }]);
    const a = elementNames('a', 0);
    const b = elementNames('b', 0);
    assert.match(d, new RegExp(`${a.rtpIngress}\\.src ! b2bsrtp name=${a.rtpDecrypt} mode=unprotect ! ${b.rtpGate}\\.`));
    assert.match(d, new RegExp(`valve name=${b.rtpGate} drop=true ! b2bsrtp name=${b.rtpEncrypt} mode=protect ! b2bsocketsink name=${b.rtpSink}`));
    assert.match(d, new RegExp(`${b.rtpIngress}\\.rtcp_src ! b2bsrtp name=${b.rtcpDecrypt} mode=unprotect ! ${a.rtcpGate}\\.`));
    assert.doesNotMatch(d, /funnel/, 'rtcp-mux needs no second socket');
    assert.doesNotMatch(d, /fakesink|udpsrc|udpsink/, 'no GstBaseSink and no thread per socket');
  });

  it('adds the RTCP socket and a funnel for a leg without rtcp-mux', () => {
    const d = describePipeline([{ index: 1, a: { rtcpMux: false }, b: { rtcpMux: true } }]);
    const a = elementNames('a', 1);
    assert.match(d, new RegExp(`b2bsocketsrc name=${a.rtcpSrc} ! b2bingress name=${a.rtcpIngress}`));
    assert.match(d, new RegExp(`funnel name=${a.rtcpFunnel} ! b2bsrtp name=${a.rtcpDecrypt}`));
    assert.equal(d.split(`${a.rtcpFunnel}.`).length - 1, 2, 'both sockets feed the funnel');
  });

  it('drops into a socketless b2bsocketsink while the other leg has no stream yet, and names no placeholder host', () => {
    const d = describePipeline([{ index: 0, a: { rtcpMux: true } }]);
    assert.match(d, /b2bsrtp name=dec_a0 mode=unprotect ! b2bsocketsink  /);
    assert.doesNotMatch(d, /host=/);
    assert.doesNotMatch(d, /_b0/);
  });

  it('puts a b2bdtmf on both RTP paths when only one leg negotiated telephone-event (dtmf), and the shape says so', () => {
    const a = elementNames('a', 0);
    const b = elementNames('b', 0);
    const d = describePipeline([{ index: 0, a: { rtcpMux: true }, b: { rtcpMux: true }, dtmf: true }]);
    assert.match(d, new RegExp(`b2bsrtp name=${a.rtpDecrypt} mode=unprotect ! b2bdtmf name=${a.rtpDtmf} ! ${b.rtpGate}\\.`));
    assert.match(d, new RegExp(`b2bsrtp name=${b.rtpDecrypt} mode=unprotect ! b2bdtmf name=${b.rtpDtmf} ! ${a.rtpGate}\\.`));
    assert.doesNotMatch(d, /rtcp_src ! b2bsrtp name=\S+ mode=unprotect ! b2bdtmf/, 'RTCP never goes through it');
    assert.doesNotMatch(describePipeline([{ index: 0, a: { rtcpMux: true }, b: { rtcpMux: true } }]), /b2bdtmf/);
    assert.notEqual(shapeKey([{ index: 0, a: { rtcpMux: true }, b: { rtcpMux: true }, dtmf: true }]), shapeKey([{ index: 0, a: { rtcpMux: true }, b: { rtcpMux: true } }]));
  });

  it('shape keys change only with what needs a new pipeline', () => {
    const k1 = shapeKey([{ index: 0, a: { rtcpMux: true }, b: { rtcpMux: false } }]);
    assert.equal(k1, '0:ms');
    assert.equal(shapeKey([{ index: 0, a: { rtcpMux: true }, b: { rtcpMux: false } }, { index: 1 }]), k1, 'an inactive stream changes nothing');
    assert.notEqual(shapeKey([{ index: 0, a: { rtcpMux: true }, b: { rtcpMux: true } }]), k1);
    assert.equal(shapeKey([{ index: 0, a: { rtcpMux: true } }]), '0:m-');
  });
});
