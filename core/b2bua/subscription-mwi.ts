/** Message-summary bodies (RFC 3842 §5.2), read where the core and plugins need them. Imports nothing. */

/**
 * `urgent` when a summary line (`Voice-Message: 4/8 (1/2)`, `Fax-Message: …`) counts new urgent messages, else
 * `non-urgent`: the Priority header Flexisip adds to a relayed or forwarded MWI NOTIFY (b2bua-server.cc, getNbNewUrgent() > 0).
 */
export function messageSummaryPriority(body: string): 'urgent' | 'non-urgent' {
  for (const line of body.split(/\r?\n/)) {
    const m = /^\s*[\w-]+-Message\s*:\s*\d+\s*\/\s*\d+\s*\(\s*(\d+)\s*\/\s*\d+\s*\)/i.exec(line);
    if (m && Number(m[1]) > 0) return 'urgent';
  }
  return 'non-urgent';
}
