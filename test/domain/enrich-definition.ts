// The instance the enrichment tests (and bench/enrich.ts) use: one entity whose columns carry
// every semantic type an enricher reads, plus an untyped one.
import { parseInstanceDefinition } from '../../src/config/load.js';
import type { InstanceDefinition } from '../../src/config/schema.js';

export const enrichDefinition = (extra = ''): InstanceDefinition =>
  parseInstanceDefinition(
    `
id: enrich
defaultPhoneRegion: US
dataSources:
  - name: Crm
    type: csv
    entities:
      - name: People
        path: people.csv
        primaryKey: Id
        columns:
          - { name: Id }
          - { name: Name, semanticType: Person.FullName }
          - { name: Mail, semanticType: Identity.Service.Email }
          - { name: Tel, semanticType: Identity.Service.Phone }
          - { name: Zip, semanticType: Location.PostalCode }
          - { name: Country, semanticType: Location.Country }
          - { name: Other }
unification:
  matching:
    - entity: Crm.People
${extra}`,
    '/tmp/enrich.yaml',
  ).definition;
