/** PluginSipApi: out-of-dialog requests for plugins (REGISTER, OPTIONS…), answering 401/407 with digest. */
import type { AccountTransport, OutgoingRequest, PluginSipApi, SipResponseView } from '../plugin-api/index.js';
import { answerChallenge } from '../sip/challenge.js';
import { parseNameAddr, formatNameAddr } from '../sip/headers.js';
import { randomToken, SipRequest, type SipResponse } from '../sip/message.js';
import { SipStack, type Flow } from '../sip/stack.js';
import type { Transport } from '../sip/transport.js';

const MAX_CHALLENGES = 2;

export function createPluginSipApi(stack: SipStack, contact: () => string, subscribe: PluginSipApi['subscribe']): PluginSipApi {
  return {
    get contact() { return contact(); },
    request: (req) => sendWithAuth(stack, req, contact()),
    subscribe,
    openAccountTransport: async (protocol) => {
      const t = await stack.openAccountTransport(protocol);
      const handle: AccountTransport = { contact: stack.contactFor(t).replace(/^<|>$/g, ''), port: t.local.port, close: () => stack.closeAccountTransport(t) };
      stackTransports.set(handle, t);
      return handle;
    },
  };
}

const stackTransports = new WeakMap<AccountTransport, Transport>();

/** The Flow sending through a plugin's account transport (undefined: the server's transport). */
export function accountFlow(handle: AccountTransport | undefined): Flow | undefined {
  const t = handle && stackTransports.get(handle);
  return t ? SipStack.accountFlow(t) : undefined;
}

function view(res: SipResponse): SipResponseView {
  return { status: res.status, reason: res.reason, header: (n) => res.get(n), body: res.body };
}

async function sendWithAuth(stack: SipStack, out: OutgoingRequest, contact: string): Promise<SipResponseView> {
  const callId = headerOf(out, 'call-id') ?? `${randomToken(16)}`;
  let cseq = Number((headerOf(out, 'cseq') ?? '1').split(/\s+/)[0]) || 1;
  const from = parseNameAddr(headerOf(out, 'from') ?? `<${contact.replace(/^<|>$/g, '')}>`);
  const fromValue = from ? formatNameAddr({ ...from, params: { ...from.params, tag: from.params['tag'] ?? randomToken(8) } }) : `<${out.uri}>;tag=${randomToken(8)}`;
  let authorization: { name: string; value: string } | undefined;
  for (let attempt = 0; ; attempt++) {
    const req = new SipRequest(out.method.toUpperCase(), out.uri);
    for (const [name, value] of Object.entries(out.headers)) {
      if (!['call-id', 'cseq', 'from', 'via', 'content-length'].includes(name.toLowerCase())) req.add(name, value);
    }
    req.set('from', fromValue);
    if (!req.has('to')) req.set('to', `<${out.uri}>`);
    req.set('call-id', callId);
    req.set('cseq', `${cseq} ${req.method}`);
    if (authorization) req.set(authorization.name, authorization.value);
    if (out.body !== undefined) req.body = out.body;
    const res = await new Promise<SipResponse>((resolve) => {
      stack.request(req, out.outboundProxy ?? out.uri, (r) => { if (r.status >= 200) resolve(r); }, accountFlow(out.transport));
    });
    if ((res.status !== 401 && res.status !== 407) || !out.credentials || attempt >= MAX_CHALLENGES) return view(res);
    const answer = answerChallenge({ response: res, credentials: out.credentials, method: req.method, uri: out.uri, body: out.body });
    if (!answer.challenge) return view(res);
    if (attempt > 0 && !answer.challenge.stale) return view(res); // credentials refused
    if (!answer.ok) {
      stack.log.warn({ uri: out.uri, error: answer.error }, 'cannot answer the digest challenge');
      return view(res);
    }
    authorization = { name: answer.header, value: answer.value };
    cseq++;
  }
}

function headerOf(out: OutgoingRequest, name: string): string | undefined {
  const key = Object.keys(out.headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : out.headers[key];
}
