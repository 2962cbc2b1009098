/** Third-party peers the e2e tests need: a missing one fails the suite with a clear message (never a silent skip). */
import { execFileSync } from 'node:child_process';

const DEBIAN_PACKAGE: Record<string, string> = {
  sipp: 'sip-tester', dumpcap: 'tshark (wireshark-common)', linphonec: 'linphone-cli', baresip: 'baresip', ss: 'iproute2',
};

export function requireTools(tools: readonly string[]): void {
  const missing = tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) {
    throw new Error(
      `missing test peer(s): ${missing.join(', ')} — install Debian package(s) ${missing.map((m) => DEBIAN_PACKAGE[m] ?? m).join(', ')} (bash scripts/setup.sh does)`,
    );
  }
}
