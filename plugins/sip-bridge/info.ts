/** The state of the bridge as Flexisip's `SIP_BRIDGE INFO` admin command prints it. */
import type { AccountPool, Line } from './accounts.js';
import type { CompiledProvider } from './bridge-config.js';

export interface AccountInfo {
  readonly address: string;
  readonly status: string;
  readonly registerEnabled?: boolean;
  readonly freeSlots?: number;
}

export interface SipBridgeInfo {
  readonly providers: readonly { readonly name: string; readonly accounts: readonly AccountInfo[] }[];
}

/**
 * liblinphone's text for the reason of a failed REGISTER answered `status`, as Flexisip prints it after
 * "Registration failed: " (linphone_reason_to_string(account->getError())). The chain, read in liblinphone:
 * SIP status → SalReason (coreapi/bellesip_sal/sal_op_impl.c, _sal_reason_from_sip_code) → LinphoneReason
 * (coreapi/misc.c, linphone_reason_from_sal) → text (coreapi/error_info.c, linphone_reason_to_string).
 * Status 0 is "no answer, transport error" (belle-sip reports 503 "io error" → the same "IO error"); a transaction
 * timeout is belle-sip's 408 → "Not answered".
 */
export function linphoneReasonText(status: number | undefined): string {
  if (status === undefined) return 'Unknown error';
  if (status >= 100 && status < 300) return 'No error';
  return LINPHONE_REASON_TEXT[status] ?? 'Unknown error';
}

const LINPHONE_REASON_TEXT: Readonly<Record<number, string>> = {
  0: 'IO error',
  301: 'Moved permanently',
  302: 'No error', // SalReasonRedirect → LinphoneReasonNone
  401: 'Unauthorized',
  403: 'Bad credentials', // SalReasonForbidden → LinphoneReasonBadCredentials
  404: 'User not found',
  407: 'Unauthorized',
  408: 'Not answered', // SalReasonRequestTimeout → LinphoneReasonNotAnswered
  410: 'Gone',
  412: 'Conditional request failed',
  415: 'Incompatible media capabilities', // LinphoneReasonUnsupportedContent is LinphoneReasonMedia
  422: 'Session Interval Too Small',
  480: 'Temporarily unavailable',
  481: 'No match',
  484: 'Address incomplete',
  486: 'Busy',
  487: 'No error',
  488: 'Not acceptable here',
  489: 'Bad event',
  491: 'Temporarily unavailable', // SalReasonRequestPending
  500: 'Unknown error', // SalReasonInternalError
  501: 'Not implemented',
  502: 'Bad gateway',
  503: 'IO error', // SalReasonServiceUnavailable → LinphoneReasonIOError
  504: 'Server timeout',
  600: 'Do not disturb',
  603: 'Call declined',
};

export function accountStatus(line: Line): string {
  if (!line.registrationRequired) return 'OK';
  switch (line.registration.state) {
    case 'registered':
      return 'OK';
    case 'none':
      return 'Should register';
    case 'registering':
      return 'Registration in progress';
    case 'failed':
      return `Registration failed: ${linphoneReasonText(line.registration.status)}`;
    case 'unregistered':
      return 'Unregistered';
  }
}

export function bridgeInfo(providers: readonly CompiledProvider[], pools: ReadonlyMap<string, AccountPool>): SipBridgeInfo {
  return {
    providers: providers.map((p) => ({
      name: p.name,
      accounts: (pools.get(p.poolName)?.lines ?? []).map((line) => {
        const status = accountStatus(line);
        return status === 'OK'
          ? { address: line.uri, status, registerEnabled: line.registrationRequired, freeSlots: line.freeSlots }
          : { address: line.uri, status };
      }),
    })),
  };
}
