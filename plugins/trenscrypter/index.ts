/**
 * trenscrypter: bridges calls to the outbound proxy and transcodes media encryption.
 * The plugin only decides leg B's encryption policy; whether the server can do that mode (else 488)
 * is decided by the core from the media engine's capabilities.
 */
import { PluginConfigError, definePlugin } from '../../core/plugin-api/index.js';
import schema from './schema.json' with { type: 'json' };
import { ENC_KEY, SRTP_KEY, decideLegBMedia, parsePolicy, unavailableSuites } from './policy.js';

export interface TrenscrypterOptions {
  readonly [ENC_KEY]?: readonly string[];
  readonly [SRTP_KEY]?: readonly string[];
}

export const PLUGIN_NAME = 'trenscrypter';

export default definePlugin<TrenscrypterOptions>({
  name: PLUGIN_NAME,
  hostApi: '^1.4.0', // validate() returns warnings (1.2.0); IncomingCall.annotate (1.4.0)
  configSchema: schema,
  validate(options) {
    // Warnings (a trailing unpaired item, ignored as Flexisip does): the host prints them in --check-config and logs them at start-up.
    const { problems, warnings } = parsePolicy(options);
    return { problems, warnings };
  },
  apply(host) {
    const { value: policy, problems } = parsePolicy(host.options);
    // validate() ran before apply(); a problem here means the host skipped it, so refuse to run with half a policy.
    const refused = problems.length > 0 ? problems : unavailableSuites(policy, host.media);
    if (refused.length > 0) throw new PluginConfigError(refused);
    const log = host.log; // the host binds the plugin name already

    host.hooks.legBMedia.tapPromise(PLUGIN_NAME, async (legA, call) => {
      try {
        const decision = decideLegBMedia(policy, call.legA.to.uri, legA);
        log.debug(
          { callId: call.id, to: call.legA.to.uri, legA: legA.encryption, legB: decision.encryption, suites: decision.srtpSuites,
            rule: decision.encryptionRule ?? 'none matched: keep leg A mode', srtpRule: decision.srtpRule },
          'leg B encryption chosen',
        );
        call.annotate('legBEncryption', decision.encryption); // the call detail record's decision
        return { encryption: decision.encryption, srtpSuites: decision.srtpSuites };
      } catch (e) {
        // Never lose a call to a policy bug: keep leg A's media and say so.
        log.error({ callId: call.id, err: e }, 'trenscrypter policy failed; leg B keeps leg A encryption');
        return legA;
      }
    });
  },
});
