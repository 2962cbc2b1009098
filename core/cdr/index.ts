/** Call detail records: built at each call's end (record.ts), emitted by hooks.callRecord, written by a sink (sink.ts). */
export { buildCallRecord, endSide, type CallRecordInput } from './record.js';
export { cdrFileProblem, createCdrSink, type CdrSink, type CdrSinkOptions } from './sink.js';
export { isolateTaps } from './isolated-taps.js';
