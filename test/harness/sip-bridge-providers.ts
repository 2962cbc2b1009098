/**
 * The provider pair of Flexisip's call-transfer-tester.cc, for the transfer unit tests and the trunk e2e tests:
 * "Outbound" finds the line by its alias (the internal caller, {from}) and calls the number on the line's host;
 * "Inbound" finds the line by its URI (the trunk's To, {to}) and calls its alias through the internal proxy.
 */
export function providerPair(names: { internal: string; external: string }, pool: string, internalProxy: string): object[] {
  return [
    {
      name: `${names.internal} -> ${names.external} (Outbound)`,
      triggerCondition: { strategy: 'Always' },
      accountToUse: { strategy: 'FindInPool', source: 'sip:{from.user}@{from.hostport}', by: 'alias' },
      onAccountNotFound: 'nextProvider',
      outgoingInvite: { to: 'sip:{incoming.to.user}@{account.uri.hostport}{incoming.to.uriParameters}', from: '{account.uri}' },
      accountPool: pool,
    },
    {
      name: `${names.external} -> ${names.internal} (Inbound)`,
      triggerCondition: { strategy: 'Always' },
      accountToUse: { strategy: 'FindInPool', source: 'sip:{to.user}@{to.hostport}', by: 'uri' },
      onAccountNotFound: 'nextProvider',
      outgoingInvite: {
        to: '{account.alias}',
        from: 'sip:{incoming.from.user}@{account.alias.hostport}{incoming.from.uriParameters}',
        outboundProxy: internalProxy,
      },
      accountPool: pool,
    },
  ];
}
