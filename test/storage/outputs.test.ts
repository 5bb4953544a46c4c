import { openSqliteOnTempDir } from './sqlite-helpers.js';
import { outputsConformance } from './outputs-conformance.js';

outputsConformance('sqlite', () => openSqliteOnTempDir('kindred-outputs-'));
