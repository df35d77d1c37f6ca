/**
 * The fake apiserver gates its connections the way the demo's imitation does: one implementation,
 * in src/ because the demo needs it at run time.
 */
export { GatedConnection as Link } from '../../src/demo/gate.js';
