import { openSqliteOnTempDir } from './sqlite-helpers.js';
import { analyticsConformance } from './analytics-conformance.js';

analyticsConformance('sqlite', () => openSqliteOnTempDir('kindred-analytics-'));
analyticsConformance('sqlite, queries in reader threads', () => openSqliteOnTempDir('kindred-analytics-', { readerThreads: 1 }));
