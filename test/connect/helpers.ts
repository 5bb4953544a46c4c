import path from 'node:path';
import { FIXTURES } from '../api/helpers.js';

/** The real-time fixture with hooks and stream consumers declared. */
export const CONNECT_FIXTURE = path.join(FIXTURES, 'connect', 'instance.yaml');
