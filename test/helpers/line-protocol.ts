/**
 * Line protocol read back into typed points, for tests: the parser lives in the framework
 * (src/lib/points/parse.ts), where the SDK's test harness (`collectPoints`) uses it too.
 */
export { parseLine, parseLines, withoutTime, type FieldType, type ParsedField, type ParsedPoint } from '../../src/lib/points/parse.js';
