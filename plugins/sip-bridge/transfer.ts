/**
 * Transfers through a provider (Flexisip's SipBridge::onTransfer, sip-provider.cc:77-92, refer-tweaker.cc): a REFER from
 * one side of a bridged call names the target as that side knows it (a trunk number, an internal alias); the other side
 * must get it in its own form. The transfer fields are the call's fields with `to` = the Refer-To address
 * (string-format-fields.hh kLinphoneCallTransferFields): `from` is the far end of the leg the REFER came on, `requestUri`
 * that leg's Request-URI. The first provider whose trigger matches that Request-URI and whose account strategy finds an
 * account with those fields (find-in-pool.cc chooseAccountForThisTransfer: the source template rendered with them)
 * gives the new Refer-To: its outgoingInvite.to rendered with `incoming` = the transfer fields and `account`.
 * None → the Refer-To is left as it is. Unlike a call, onAccountNotFound and the account's availability do not matter:
 * Flexisip only looks for the account.
 */
import type { AccountPool, Line } from './accounts.js';
import type { CompiledProvider } from './bridge-config.js';
import { parseSipAddress, renderedAddress } from './sip-uri.js';
import type { UriParts } from './sip-uri.js';
import { chooseLine } from './routing.js';
import { callValues } from './template.js';

/** The transfer fields: `to` = the Refer-To, `from` / `requestUri` = the referring leg's far end and Request-URI. */
export interface TransferAddresses {
  readonly to: UriParts;
  readonly from: UriParts;
  readonly requestUri: UriParts;
}

export type TransferDecision =
  | { readonly kind: 'rewrite'; readonly provider: CompiledProvider; readonly line: Line; readonly uri: string; readonly displayName: string | undefined }
  | { readonly kind: 'keep'; readonly why: string };

export function transferTarget(
  providers: readonly CompiledProvider[],
  pools: ReadonlyMap<string, AccountPool>,
  fields: TransferAddresses,
  random: () => number = Math.random,
): TransferDecision {
  const values = callValues(fields);
  for (const provider of providers) {
    // Flexisip (sip-provider.cc onTransfer): no account → next provider, whatever onAccountNotFound says; availability
    // is not asked. Random picks a random available account for a transfer too ("not implemented for call transfers yet").
    const choice = chooseLine(provider, pools, values, fields.requestUri.uri, random, false);
    if (choice.kind !== 'line') continue;
    const { line } = choice;
    const text = provider.to.render({ ...values, ...line.templateValues });
    const address = renderedAddress(text);
    // Flexisip would hand liblinphone an address that does not parse (the transfer then fails); we keep the REFER's own.
    if (address === undefined) return { kind: 'keep', why: `provider "${provider.name}": outgoingInvite.to rendered "${text}", not a SIP URI` };
    const parts = parseSipAddress(address);
    return { kind: 'rewrite', provider, line, uri: parts.uri, displayName: parts.displayName || undefined };
  }
  return { kind: 'keep', why: 'no provider matched the transfer' };
}
