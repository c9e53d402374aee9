/** `kindling/v1/conditions/parent-condition`, where Hatchet programs import `ParentCondition` from. */
export { type Parent, ParentCondition } from './conditions.js';
