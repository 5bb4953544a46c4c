import { openSqliteOnTempDir } from './sqlite-helpers.js';
import { analyticsConformance } from './analytics-conformance.js';

analyticsConformance('sqlite', () => openSqliteOnTempDir('kindred-analytics-'));
