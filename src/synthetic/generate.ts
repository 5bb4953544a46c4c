// Synthetic source data for Kindred: three source systems (eCommerce, Loyalty, Website) whose customer
// records are noisy copies of one hidden population of people, plus activities, a ground-truth file
// (which record belongs to which person) and an instance definition that unifies them.
//
// Everything is driven by one seeded PRNG and a fixed base date, so the same options always give
// byte-identical files. Lines are streamed to disk in chunks, so a million records need little memory.
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import path from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import type { InstanceDefinition, Normalization, ConditionDef } from '../config/schema.js';

export interface GenerateOptions {
  /** Directory to write into (created if missing); instance.yaml and truth.csv go at its top. */
  outDir: string;
  /** Total number of CUSTOMER records across eCommerceContacts, loyCustomers and webUsers. */
  records: number;
  /** PRNG seed (default 42). */
  seed?: number;
  /**
   * Average number of activities per customer record of an entity that has activities
   * (purchases per eCommerce contact, reviews per website user). Default 2.
   */
  activitiesPerCustomer?: number;
  /** Called periodically with (customer records written, records requested). */
  onProgress?: (done: number, total: number) => void;
  /** Instance id in instance.yaml (default "generated"). */
  instanceId?: string;
  /** Display name in instance.yaml. */
  instanceName?: string;
  /** Optional refresh schedule to put in instance.yaml. */
  schedule?: { cron: string; timezone?: string };
  /** Optional filterIndex (Customer attributes indexed for $filter) to put in instance.yaml. */
  filterIndex?: string[];
}

export interface GenerateResult {
  /** Every file written (absolute paths): the five data files, then truth.csv, then instance.yaml. */
  files: string[];
  /** Number of distinct (true) people behind the customer records. */
  people: number;
  customerRecords: number;
  activityRecords: number;
  instanceFile: string;
  truthFile: string;
}

// ---------------------------------------------------------------------------------------------
// Layout of the generated systems
// ---------------------------------------------------------------------------------------------

export const SYNTHETIC_LAYOUT = {
  eCommerce: {
    contacts: { entity: 'eCommerceContacts', path: 'eCommerce/eCommerceContacts.csv', key: 'ContactId' },
    purchases: { entity: 'eCommercePurchases', path: 'eCommerce/eCommercePurchases.csv', key: 'PurchaseId' },
  },
  Loyalty: {
    customers: { entity: 'loyCustomers', path: 'Loyalty/loyCustomers.csv', key: 'LoyaltyId' },
  },
  Website: {
    users: { entity: 'webUsers', path: 'Website/webUsers.jsonl', key: 'UserId' },
    reviews: { entity: 'webReviews', path: 'Website/webReviews.jsonl', key: 'ReviewId' },
  },
  truth: 'truth.csv',
  instance: 'instance.yaml',
} as const;

const EC_CONTACT_COLUMNS = ['ContactId', 'FirstName', 'LastName', 'FullName', 'Email', 'Phone', 'Street', 'City', 'PostalCode', 'Country', 'BirthDate', 'UpdatedAt'] as const;
const EC_PURCHASE_COLUMNS = ['PurchaseId', 'ContactId', 'PurchasedOn', 'ProductName', 'Quantity', 'TotalPrice'] as const;
const LOY_COLUMNS = ['LoyaltyId', 'Name', 'EMail', 'Mobile', 'ZipCode', 'City', 'Tier', 'JoinedOn', 'LastUpdated'] as const;

/** Share of people with a record in each system (every person is in at least one). */
const SHARE_IN_SYSTEM = [0.6, 0.5, 0.4] as const;
/**
 * Independent per-system probabilities that, conditioned on "at least one system", give the shares
 * above: p_i = share_i * P(at least one), solved by fixed-point iteration.
 */
const P_IN_SYSTEM = ((): { eCommerce: number; Loyalty: number; Website: number } => {
  let atLeastOne = 1;
  let p: number[] = [...SHARE_IN_SYSTEM];
  for (let i = 0; i < 100; i++) {
    p = SHARE_IN_SYSTEM.map((s) => s * atLeastOne);
    atLeastOne = 1 - p.reduce((acc, x) => acc * (1 - x), 1);
  }
  return { eCommerce: p[0], Loyalty: p[1], Website: p[2] };
})();
/** Probability of an extra (duplicate) record in a system the person is in; ~8% of records are duplicates. */
const P_DUPLICATE = 0.08;
/** Given one duplicate, probability of a second one. */
const P_SECOND_DUPLICATE = 0.1;
/** Probability that a new person joins the household of a recently created person. */
const P_HOUSEHOLD = 0.03;

const BASE_MS = Date.UTC(2026, 0, 1);
const DAY_MS = 86_400_000;
const EARLIEST_SINCE_MS = Date.UTC(2018, 0, 1);

const CHUNK_CHARS = 1 << 16;

// ---------------------------------------------------------------------------------------------
// PRNG: sfc32 seeded through splitmix32
// ---------------------------------------------------------------------------------------------

class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = (Math.trunc(seed) >>> 0) ^ 0x5bd1e995;
    const splitmix = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(10));
    return s;
  }

  gaussian(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.gaussian()));
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
}

/** Sampling from a fixed discrete distribution through its cumulative weights. */
class Weighted<T> {
  private readonly cdf: Float64Array;

  constructor(
    readonly items: readonly T[],
    weights: readonly number[],
  ) {
    this.cdf = new Float64Array(items.length);
    let total = 0;
    for (let i = 0; i < items.length; i++) {
      total += weights[i];
      this.cdf[i] = total;
    }
    for (let i = 0; i < items.length; i++) this.cdf[i] /= total;
  }

  /** Zipf–Mandelbrot weights 1/(rank+q)^s over the items in order. */
  static zipf<T>(items: readonly T[], q: number, s: number): Weighted<T> {
    return new Weighted(items, items.map((_, k) => 1 / Math.pow(k + 1 + q, s)));
  }

  sample(rng: Rng): T {
    const u = rng.next();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo];
  }
}

/** 53-bit string hash (cyrb53), used to keep emails and phone numbers unique without storing them. */
function hash53(str: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

// ---------------------------------------------------------------------------------------------
// Built-in vocabularies
// ---------------------------------------------------------------------------------------------

// Ordered roughly by frequency: sampled with a Zipf–Mandelbrot law over the rank.
const FIRST_NAMES: readonly string[] = unique([
  'James', 'Mary', 'John', 'Patricia', 'Robert', 'Jennifer', 'Michael', 'Linda', 'William', 'Elizabeth',
  'David', 'Barbara', 'Maria', 'José', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah',
  'Charles', 'Karen', 'Christopher', 'Nancy', 'Daniel', 'Lisa', 'Matthew', 'Sophie', 'Anthony', 'Margaret',
  'Mark', 'Sandra', 'Mohammed', 'Ashley', 'Steven', 'Kimberly', 'Paul', 'Emily', 'Andrew', 'Donna',
  'Joshua', 'Michelle', 'Kenneth', 'Carol', 'Kevin', 'Amanda', 'Brian', 'Dorothy', 'George', 'Melissa',
  'Carlos', 'Ana', 'Timothy', 'Deborah', 'Ronald', 'Stephanie', 'Edward', 'Rebecca', 'Jason', 'Sharon',
  'Jeffrey', 'Laura', 'Ryan', 'Cynthia', 'Jacob', 'Kathleen', 'Luis', 'Zoë', 'Gary', 'Amy',
  'Nicholas', 'Angela', 'Eric', 'Shirley', 'Jonathan', 'Anna', 'Stephen', 'Brenda', 'Wei', 'Priya',
  'Larry', 'Pamela', 'Justin', 'Emma', 'Scott', 'Nicole', 'Brandon', 'Helen', 'Benjamin', 'Samantha',
  'Samuel', 'Katherine', 'Gregory', 'Christine', 'Alexander', 'Debra', 'Frank', 'Rachel', 'Patrick', 'Carolyn',
  'Miguel', 'Sofía', 'Raymond', 'Janet', 'Jack', 'Catherine', 'Dennis', 'Chloé', 'Jerry', 'Heather',
  'Tyler', 'Diane', 'Aaron', 'Ruth', 'Ahmed', 'Fatima', 'Adam', 'Olivia', 'Nathan', 'Joyce',
  'Henry', 'Virginia', 'Douglas', 'Victoria', 'Zachary', 'Kelly', 'Peter', 'Lauren', 'Kyle', 'Christina',
  'Ethan', 'Joan', 'Walter', 'Evelyn', 'Noah', 'Judith', 'Jeremy', 'Megan', 'Christian', 'Andrea',
  'Javier', 'Lucía', 'Keith', 'Cheryl', 'Roger', 'Hannah', 'Terry', 'Jacqueline', 'Gerald', 'Martha',
  'Harold', 'Gloria', 'Sean', 'Teresa', 'Austin', 'Ann', 'Carl', 'Sara', 'Arthur', 'Madison',
  'Lawrence', 'Frances', 'Dylan', 'Kathryn', 'Jesse', 'Janice', 'Jordan', 'Jean', 'Bryan', 'Abigail',
  'François', 'Léa', 'Jürgen', 'Ingrid', 'Billy', 'Alice', 'Joe', 'Julia', 'Bruce', 'Judy',
  'Gabriel', 'Sophia', 'Logan', 'Grace', 'Albert', 'Denise', 'Willie', 'Amber', 'Alan', 'Doris',
  'Juan', 'Marilyn', 'Wayne', 'Danielle', 'Elijah', 'Beverly', 'Randy', 'Isabella', 'Roy', 'Theresa',
  'Vincent', 'Diana', 'Ralph', 'Natalie', 'Eugene', 'Brittany', 'Russell', 'Charlotte', 'Bobby', 'Marie',
  'Mason', 'Kayla', 'Philip', 'Alexis', 'Louis', 'Lori', 'Omar', 'Aisha', 'Raj', 'Ananya',
  'Arjun', 'Deepa', 'Vikram', 'Sanjay', 'Hiroshi', 'Yuki', 'Kenji', 'Haruto', 'Min-jun', 'Seo-yeon',
  'Ji-woo', 'Linh', 'Thanh', 'Olga', 'Ivan', 'Dmitri', 'Natasha', 'Sergei', 'Katarzyna', 'Piotr',
  'Łukasz', 'Małgorzata', 'Zoltán', 'Dávid', 'Lars', 'Astrid', 'Sven', 'Björn', 'Søren', 'Åsa',
  'Jörg', 'Günther', 'Renée', 'Hélène', 'Jérôme', 'René', 'Amélie', 'Andrés', 'Ramón', 'Íñigo',
  'Niamh', 'Siobhán', 'Seán', 'Aoife', 'Ciarán', 'Émile', 'Noémie', 'Maëlle', 'Gaël', 'Anaïs',
  'Cédric', 'Benoît', 'Stéphane', 'Thérèse', 'Inés', 'Núria', 'Joaquín', 'Martín', 'Sebastián', 'Nicolás',
  'Tomás', 'Matías', 'João', 'Gonçalo', 'Mário', 'Valentina', 'Camila', 'Gabriela', 'Fernanda', 'Mateo',
  'Diego', 'Pablo', 'Alejandro', 'Yusuf', 'Ali', 'Hassan', 'Leila', 'Ibrahim', 'Zainab', 'Kofi',
  'Ama', 'Chinedu', 'Ngozi', 'Oluwaseun', 'Tunde', 'Amara', 'Moussa', 'Fatoumata', 'Ayşe', 'Mehmet',
  'Emre', 'Elif', 'Çağla', 'Dagny', 'Freya', 'Maja', 'Noor', 'Rania', 'Tariq', 'Imani',
]);

const LAST_NAMES: readonly string[] = unique([
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Müller', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson',
  'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis',
  'Patel', 'Nguyen', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres',
  'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell',
  'Schmidt', 'Dubois', 'Carter', 'Roberts', 'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz', 'Parker',
  'Cruz', 'Edwards', 'Collins', 'Reyes', 'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers',
  'Kim', 'Chen', 'Wang', 'Gutierrez', 'Ortiz', 'Morgan', 'Cooper', 'Peterson', 'Bailey', 'Reed',
  'Kelly', 'Howard', 'Ramos', 'Cox', 'Ward', 'Richardson', 'Watson', 'Brooks', 'Chavez', 'Wood',
  'Schneider', 'Fischer', 'Weber', 'Øberg', 'Muñoz', 'James', 'Bennett', 'Gray', 'Mendoza', 'Ruiz',
  'Hughes', 'Price', 'Alvarez', 'Castillo', 'Sanders', 'Myers', 'Long', 'Ross', 'Foster', 'Jimenez',
  'Powell', 'Jenkins', 'Perry', 'Russell', 'Sullivan', 'Bell', 'Coleman', 'Butler', 'Henderson', 'Barnes',
  'Singh', 'Kumar', 'Khan', 'Fisher', 'Vasquez', 'Simmons', 'Romero', 'Jordan', 'Patterson', 'Alexander',
  'Hamilton', 'Graham', 'Reynolds', 'Griffin', 'Wallace', 'Moreno', 'West', 'Cole', 'Hayes', 'Bryant',
  'Herrera', 'Gibson', 'Ellis', 'Tran', 'Medina', 'Aguilar', 'Stevens', 'Murray', 'Ford', 'Castro',
  'Marshall', 'Owens', 'Harrison', 'Fernández', 'McDonald', 'Woods', 'Washington', 'Kennedy', 'Wells', 'Vargas',
  "O'Brien", "O'Connor", 'Schäfer', 'Köhler', 'Lefèvre', 'Moreau', 'Rossi', 'Russo', 'Ferrari', 'Esposito',
  'Henry', 'Freeman', 'Webb', 'Tucker', 'Guzman', 'Burns', 'Crawford', 'Olson', 'Simpson', 'Porter',
  'Hunter', 'Gordon', 'Mendez', 'Silva', 'Shaw', 'Snyder', 'Mason', 'Dixon', 'Hunt', 'Hicks',
  'Holmes', 'Palmer', 'Wagner', 'Black', 'Robertson', 'Boyd', 'Rose', 'Stone', 'Salazar', 'Fox',
  'Sørensen', 'Jørgensen', 'Ødegaard', 'Åberg', 'Lindqvist', 'Nyström', 'Johansson', 'Andersson', 'Karlsson', 'Hansen',
  'Groß', 'Krüger', 'Becker', 'Wolf', 'Schröder', 'Neumann', 'Zimmermann', 'Braun', 'Hofmann', 'Meyer',
  'Lefebvre', 'Laurent', 'Girard', 'Bonnet', 'Dupont', 'Lambert', 'Fontaine', 'Rousseau', 'Mercier', 'Chevalier',
  'Gauthier', 'Bélanger', 'Côté', 'Gagnon', 'Bouchard', 'Núñez', 'Ibáñez', 'Peña', 'Vázquez', 'Sandoval',
  'Bianchi', 'Romano', 'Colombo', 'Ricci', 'Marino', 'Greco', 'Costa', 'Ferreira', 'Pereira', 'Oliveira',
  'Sousa', 'Gonçalves', 'Rodrigues', 'Almeida', 'Santos', 'Nowak', 'Kowalski', 'Wiśniewski', 'Wójcik', 'Kowalczyk',
  'Lewandowski', 'Dąbrowski', 'Ivanov', 'Petrov', 'Smirnov', 'Kuznetsov', 'Popescu', 'Horváth', 'Nagy', 'Kovács',
  'Novák', 'Dvořák', 'Yılmaz', 'Kaya', 'Demir', 'Şahin', 'Çelik', 'Öztürk', 'Ahmed', 'Hussain',
  'Shah', 'Sharma', 'Gupta', 'Reddy', 'Iyer', 'Li', 'Zhang', 'Liu', 'Yang', 'Huang',
  'Zhao', 'Wu', 'Zhou', 'Xu', 'Sato', 'Suzuki', 'Takahashi', 'Tanaka', 'Watanabe', 'Park',
  'Choi', 'Jung', 'Kang', 'Pham', 'Le', 'Hoang', 'McCarthy', 'MacLeod', 'Byrne', 'Doyle',
  'Walsh', "O'Neill", 'Okafor', 'Adeyemi', 'Mensah', 'Diallo', 'Traoré', 'Haddad', 'Nasser', 'Cohen',
  'Levi', 'Friedman', 'de Vries', 'Jansen', 'Bakker', 'Visser', 'De Jong', 'Van Dijk', 'Janssens', 'Peeters',
]);

interface UsCity { name: string; zip3: string; areas: readonly string[] }
const US_CITIES: readonly UsCity[] = [
  { name: 'New York', zip3: '100', areas: ['212', '646', '917'] },
  { name: 'Los Angeles', zip3: '900', areas: ['213', '310', '323'] },
  { name: 'Chicago', zip3: '606', areas: ['312', '773'] },
  { name: 'Houston', zip3: '770', areas: ['713', '832'] },
  { name: 'Phoenix', zip3: '850', areas: ['602', '480'] },
  { name: 'Philadelphia', zip3: '191', areas: ['215', '267'] },
  { name: 'San Antonio', zip3: '782', areas: ['210'] },
  { name: 'San Diego', zip3: '921', areas: ['619', '858'] },
  { name: 'Dallas', zip3: '752', areas: ['214', '469', '972'] },
  { name: 'Austin', zip3: '787', areas: ['512', '737'] },
  { name: 'San Jose', zip3: '951', areas: ['408', '669'] },
  { name: 'Seattle', zip3: '981', areas: ['206'] },
  { name: 'San Francisco', zip3: '941', areas: ['415', '628'] },
  { name: 'Denver', zip3: '802', areas: ['303', '720'] },
  { name: 'Boston', zip3: '021', areas: ['617', '857'] },
  { name: 'Atlanta', zip3: '303', areas: ['404', '470', '678'] },
  { name: 'Miami', zip3: '331', areas: ['305', '786'] },
  { name: 'Portland', zip3: '972', areas: ['503', '971'] },
  { name: 'Minneapolis', zip3: '554', areas: ['612'] },
  { name: 'Nashville', zip3: '372', areas: ['615', '629'] },
  { name: 'Charlotte', zip3: '282', areas: ['704', '980'] },
  { name: 'Columbus', zip3: '432', areas: ['614'] },
  { name: 'Detroit', zip3: '482', areas: ['313'] },
  { name: 'Las Vegas', zip3: '891', areas: ['702', '725'] },
  { name: 'Baltimore', zip3: '212', areas: ['410', '443'] },
  { name: 'Salt Lake City', zip3: '841', areas: ['801', '385'] },
  { name: 'Raleigh', zip3: '276', areas: ['919', '984'] },
  { name: 'Kansas City', zip3: '641', areas: ['816'] },
  { name: 'Pittsburgh', zip3: '152', areas: ['412'] },
  { name: 'St. Louis', zip3: '631', areas: ['314'] },
  { name: 'New Orleans', zip3: '701', areas: ['504'] },
  { name: 'Sacramento', zip3: '958', areas: ['916', '279'] },
  { name: 'Albuquerque', zip3: '871', areas: ['505'] },
  { name: 'Madison', zip3: '537', areas: ['608'] },
];
const GB_CITIES: readonly { name: string; outward: readonly string[] }[] = [
  { name: 'London', outward: ['SW1A', 'SW3', 'SE1', 'E1', 'E14', 'N1', 'NW3', 'W1D', 'W11', 'EC1V', 'WC2H'] },
  { name: 'Manchester', outward: ['M1', 'M4', 'M14', 'M20'] },
  { name: 'Birmingham', outward: ['B1', 'B15', 'B29'] },
  { name: 'Leeds', outward: ['LS1', 'LS6', 'LS17'] },
  { name: 'Glasgow', outward: ['G1', 'G12', 'G41'] },
  { name: 'Edinburgh', outward: ['EH1', 'EH3', 'EH10'] },
  { name: 'Bristol', outward: ['BS1', 'BS6', 'BS8'] },
  { name: 'Liverpool', outward: ['L1', 'L8', 'L17'] },
  { name: 'Cardiff', outward: ['CF10', 'CF24'] },
];
const DE_CITIES: readonly { name: string; zipLo: number; zipHi: number }[] = [
  { name: 'Berlin', zipLo: 10115, zipHi: 14199 },
  { name: 'Hamburg', zipLo: 20095, zipHi: 22769 },
  { name: 'München', zipLo: 80331, zipHi: 81929 },
  { name: 'Köln', zipLo: 50667, zipHi: 51149 },
  { name: 'Frankfurt am Main', zipLo: 60306, zipHi: 65936 },
  { name: 'Stuttgart', zipLo: 70173, zipHi: 70629 },
  { name: 'Düsseldorf', zipLo: 40210, zipHi: 40629 },
  { name: 'Leipzig', zipLo: 4103, zipHi: 4357 },
  { name: 'Nürnberg', zipLo: 90402, zipHi: 90491 },
];
const FR_CITIES: readonly { name: string; zips: readonly string[] }[] = [
  { name: 'Paris', zips: Array.from({ length: 20 }, (_, i) => `750${String(i + 1).padStart(2, '0')}`) },
  { name: 'Marseille', zips: Array.from({ length: 16 }, (_, i) => `130${String(i + 1).padStart(2, '0')}`) },
  { name: 'Lyon', zips: Array.from({ length: 9 }, (_, i) => `6900${i + 1}`) },
  { name: 'Toulouse', zips: ['31000', '31100', '31200', '31300', '31400', '31500'] },
  { name: 'Nice', zips: ['06000', '06100', '06200', '06300'] },
  { name: 'Nantes', zips: ['44000', '44100', '44200', '44300'] },
  { name: 'Bordeaux', zips: ['33000', '33100', '33200', '33300', '33800'] },
  { name: 'Lille', zips: ['59000', '59160', '59260', '59777', '59800'] },
  { name: 'Orléans', zips: ['45000', '45100'] },
  { name: 'Besançon', zips: ['25000'] },
];

const US_STREETS = ['Main', 'Oak', 'Maple', 'Cedar', 'Pine', 'Elm', 'Washington', 'Lake', 'Hill', 'Park', 'Sunset', 'Lincoln', 'Jackson', 'Church', 'Highland', 'Mill', 'River', 'Spring', 'Ridge', 'Walnut', 'Chestnut', 'Franklin', 'Madison', 'Willow', 'Broad', 'Market', 'Valencia', 'Mission', 'Cherry', 'Meadow'];
const US_STREET_TYPES = [['St', 'Street'], ['Ave', 'Avenue'], ['Rd', 'Road'], ['Blvd', 'Boulevard'], ['Dr', 'Drive'], ['Ln', 'Lane'], ['Ct', 'Court'], ['Way', 'Way'], ['Pl', 'Place']] as const;
const GB_STREETS = ['High', 'Station', 'Church', 'Victoria', 'Green', 'Manor', 'Park', 'Queens', 'Kings', 'Grange', 'Albert', 'Mill', 'York', 'Windsor', 'Stanley'];
const GB_STREET_TYPES = ['Road', 'Street', 'Lane', 'Close', 'Avenue', 'Gardens', 'Crescent', 'Terrace'];
const DE_STREETS = ['Haupt', 'Bahnhof', 'Schul', 'Garten', 'Goethe', 'Schiller', 'Linden', 'Berg', 'Kirch', 'Wald', 'Mozart', 'Friedrich', 'Rosen', 'Birken'];
const DE_STREET_TYPES = ['straße', 'straße', 'straße', 'weg', 'allee', 'platz', 'gasse'];
const FR_STREET_TYPES = ['rue', 'rue', 'rue', 'avenue', 'boulevard', 'place', 'allée', 'impasse'];
const FR_STREETS = ['de la Paix', 'Victor Hugo', 'Jean Jaurès', 'des Lilas', 'du Général de Gaulle', 'Émile Zola', 'de la République', 'Pasteur', 'des Écoles', 'Voltaire', 'de la Gare', 'Saint-Honoré', 'du Château', 'Molière'];

const COUNTRY_NAMES: Record<Country, readonly string[]> = {
  US: ['US', 'USA', 'United States'],
  GB: ['GB', 'UK', 'United Kingdom'],
  DE: ['DE', 'Germany', 'Deutschland'],
  FR: ['FR', 'France', 'France'],
};

const COMPANY_DOMAINS = ['contoso.com', 'fabrikam.com', 'northwindtraders.com', 'adatum.com', 'tailspintoys.com', 'wingtiptoys.com', 'litwareinc.com', 'woodgrovebank.com', 'proseware.com', 'fourthcoffee.com', 'alpineskihouse.com', 'relecloud.com'];
const FREE_DOMAINS: Record<Country, Weighted<string>> = {
  US: new Weighted(['gmail.com', 'outlook.com', 'yahoo.com', 'hotmail.com', 'icloud.com', 'aol.com', 'proton.me', 'comcast.net'], [38, 14, 12, 6, 8, 3, 3, 3]),
  GB: new Weighted(['gmail.com', 'outlook.com', 'yahoo.co.uk', 'hotmail.co.uk', 'btinternet.com', 'sky.com', 'icloud.com'], [35, 15, 10, 10, 8, 6, 6]),
  DE: new Weighted(['gmx.de', 'web.de', 'gmail.com', 't-online.de', 'outlook.de', 'posteo.de'], [24, 22, 25, 12, 8, 3]),
  FR: new Weighted(['gmail.com', 'orange.fr', 'free.fr', 'laposte.net', 'hotmail.fr', 'sfr.fr', 'yahoo.fr'], [35, 18, 12, 8, 10, 6, 6]),
};
const P_COMPANY_EMAIL = 0.13;

const PRODUCTS: readonly (readonly [string, number])[] = [
  ['Trail Running Shoes', 119.99], ['Merino Wool Socks', 18.5], ['Waterproof Hiking Jacket', 189.0], ['Insulated Water Bottle', 29.95],
  ['Yoga Mat', 45.0], ['Wireless Earbuds', 79.99], ['Smart Fitness Watch', 249.0], ['Cotton T-Shirt', 19.99],
  ['Slim Fit Jeans', 59.9], ['Leather Belt', 35.0], ['Canvas Backpack', 64.5], ['Rain Umbrella', 22.0],
  ['Espresso Beans 1kg', 24.9], ['French Press', 39.0], ['Ceramic Mug Set', 27.5], ['Cast Iron Skillet', 44.99],
  ['Chef Knife', 89.0], ['Bamboo Cutting Board', 31.0], ['Scented Candle', 16.0], ['Linen Bed Sheets', 129.0],
  ['Down Pillow', 59.0], ['Desk Lamp', 49.99], ['Mechanical Keyboard', 139.0], ['Ergonomic Mouse', 59.99],
  ['USB-C Charger', 34.99], ['Noise Cancelling Headphones', 299.0], ['Paperback Novel', 14.99], ['Board Game', 39.99],
  ['Jigsaw Puzzle 1000 pcs', 21.0], ['Sunglasses', 89.5], ['Wool Scarf', 42.0], ['Running Shorts', 32.0],
  ['Cycling Helmet', 74.0], ['Camping Tent', 219.0], ['Sleeping Bag', 129.5], ['Headlamp', 27.99],
  ['Plant Pot', 18.0], ['Garden Gloves', 12.5], ['Dog Leash', 19.0], ['Cat Scratching Post', 54.0],
];
const PRODUCT_PICK = Weighted.zipf(PRODUCTS, 5, 0.9);

const REVIEW_TEXTS: Record<number, readonly string[]> = {
  1: ['Broke after two weeks. Very disappointed.', 'Not as described, returning it.', 'Poor quality for the price.', 'Arrived damaged and support never answered.'],
  2: ['Meh. It works, but barely.', 'Smaller than expected, and the color is off.', 'Had to return it once; the replacement is "okay".'],
  3: ['Does the job.', 'Decent quality for the money.', 'Fine, nothing special.', 'Good, but shipping took ages.'],
  4: ['Very good, would buy again.', 'Nice quality, fits well.', 'Works great; instructions could be clearer.', 'Solid product, fast delivery.'],
  5: ['Love it!', 'Exactly as described, 10/10.', 'Best purchase this year, highly recommend.', 'Excellent quality, arrived early. Thanks!'],
};

const KEYBOARD_NEIGHBOURS: Record<string, string> = {
  q: 'wa', w: 'qeas', e: 'wrsd', r: 'etdf', t: 'ryfg', y: 'tugh', u: 'yihj', i: 'uojk', o: 'ipkl', p: 'ol',
  a: 'qwsz', s: 'awedxz', d: 'serfcx', f: 'drtgvc', g: 'ftyhbv', h: 'gyujnb', j: 'huikmn', k: 'jiolm', l: 'kop',
  z: 'asx', x: 'zsdc', c: 'xdfv', v: 'cfgb', b: 'vghn', n: 'bhjm', m: 'njk',
};

const SPECIAL_FOLDS: Record<string, string> = { ø: 'o', Ø: 'O', ß: 'ss', æ: 'ae', Æ: 'AE', ł: 'l', Ł: 'L', đ: 'd', Đ: 'D', ı: 'i', œ: 'oe', Œ: 'OE' };

function unique(items: readonly string[]): string[] {
  return [...new Set(items.map((s) => s.normalize('NFC')))];
}

/** Strip accents: "José Øberg" -> "Jose Oberg". */
function asciiFold(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  return s
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/[øØßæÆłŁđĐıœŒ]/g, (c) => SPECIAL_FOLDS[c] ?? c);
}

/** The mailbox an address delivers to: Gmail ignores dots, so john.smith@ and johnsmith@ are one person. */
function mailbox(email: string): string {
  const at = email.lastIndexOf('@');
  const domain = email.slice(at + 1);
  return domain === 'gmail.com' ? `${email.slice(0, at).replace(/\./g, '')}@${domain}` : email;
}

function slug(s: string): string {
  return asciiFold(s).toLowerCase().replace(/[^a-z0-9]/g, '');
}

// ---------------------------------------------------------------------------------------------
// The population
// ---------------------------------------------------------------------------------------------

type Country = 'US' | 'GB' | 'DE' | 'FR';
const COUNTRY_PICK = new Weighted<Country>(['US', 'GB', 'DE', 'FR'], [80, 8, 6, 6]);
const COUNTRY_CODE: Record<Country, string> = { US: '1', GB: '44', DE: '49', FR: '33' };

const US_CITY_PICK = Weighted.zipf(US_CITIES, 3, 1);
const GB_CITY_PICK = Weighted.zipf(GB_CITIES, 1, 1);
const DE_CITY_PICK = Weighted.zipf(DE_CITIES, 1, 1);
const FR_CITY_PICK = Weighted.zipf(FR_CITIES, 1, 1);
// Zipf–Mandelbrot over ranks: the most common first name / surname covers ~2.5% of people, so
// frequent full names are shared by many different people.
const FIRST_PICK = Weighted.zipf(FIRST_NAMES, 8, 1.05);
const LAST_PICK = Weighted.zipf(LAST_NAMES, 8, 1.05);

interface Address {
  country: Country;
  /** Street line with the long street type ("12 Oak Street"); short form in `streetShort`. */
  street: string;
  streetShort: string;
  city: string;
  postal: string;
}

interface Phone {
  country: Country;
  /** National significant number (digits, no trunk prefix). */
  nsn: string;
}

interface Person {
  n: number;
  id: string;
  first: string;
  last: string;
  birth: string;
  country: Country;
  address: Address;
  email: string;
  altEmail?: string;
  phone: Phone;
  altPhone?: Phone;
  /** Customer since (epoch ms): lower bound for the dates in this person's records. */
  since: number;
}

class Population {
  private readonly taken = new Set<number>();
  private readonly recent: Person[] = [];
  private count = 0;

  constructor(private readonly rng: Rng) {}

  get size(): number {
    return this.count;
  }

  next(): Person {
    const rng = this.rng;
    const n = ++this.count;
    const id = `P${String(n).padStart(7, '0')}`;
    let first = FIRST_PICK.sample(rng);
    let last = LAST_PICK.sample(rng);
    const head = this.recent.length > 0 && rng.chance(P_HOUSEHOLD) ? rng.pick(this.recent) : undefined;
    let country: Country;
    let address: Address;
    let phone: Phone;
    if (head) {
      // Same household: same address, usually the same surname, sometimes the same (landline) phone.
      country = head.country;
      address = head.address;
      if (rng.chance(0.75)) last = head.last;
      while (first === head.first) first = FIRST_PICK.sample(rng);
      phone = rng.chance(0.4) ? head.phone : this.newPhone(country, address);
    } else {
      country = COUNTRY_PICK.sample(rng);
      address = this.newAddress(country);
      phone = this.newPhone(country, address);
    }
    const birthMs = Date.UTC(1948, 0, 1) + rng.int(58 * 365) * DAY_MS;
    const birth = isoDate(birthMs);
    const email = this.newEmail(first, last, birth, country, undefined);
    const since = EARLIEST_SINCE_MS + rng.int(Math.floor((BASE_MS - 30 * DAY_MS - EARLIEST_SINCE_MS) / 1000)) * 1000;
    const person: Person = { n, id, first, last, birth, country, address, email, phone, since };
    if (this.recent.length < 512) this.recent.push(person);
    else this.recent[rng.int(512)] = person;
    return person;
  }

  altEmail(p: Person): string {
    if (p.altEmail === undefined) p.altEmail = this.newEmail(p.first, p.last, p.birth, p.country, p.email);
    return p.altEmail;
  }

  altPhone(p: Person): Phone {
    if (p.altPhone === undefined) p.altPhone = this.newPhone(p.country, p.address);
    return p.altPhone;
  }

  newAddress(country: Country): Address {
    const rng = this.rng;
    const no = String(rng.chance(0.7) ? rng.range(1, 999) : rng.range(1000, 9999));
    switch (country) {
      case 'US': {
        const city = US_CITY_PICK.sample(rng);
        const [short, long] = rng.pick(US_STREET_TYPES);
        const name = rng.pick(US_STREETS);
        const apt = rng.chance(0.15) ? ` Apt ${rng.range(1, 40)}${rng.pick(['', 'A', 'B', 'C'])}` : '';
        return {
          country,
          street: `${no} ${name} ${long}${apt}`,
          streetShort: `${no} ${name} ${short}${apt}`,
          city: city.name,
          postal: city.zip3 + String(rng.int(100)).padStart(2, '0'),
        };
      }
      case 'GB': {
        const city = GB_CITY_PICK.sample(rng);
        const street = `${rng.range(1, 180)} ${rng.pick(GB_STREETS)} ${rng.pick(GB_STREET_TYPES)}`;
        const letters = 'ABDEFGHJLNPQRSTUWXYZ';
        const postal = `${rng.pick(city.outward)} ${rng.range(1, 9)}${letters[rng.int(20)]}${letters[rng.int(20)]}`;
        return { country, street, streetShort: street.replace(/ Road$/, ' Rd').replace(/ Street$/, ' St'), city: city.name, postal };
      }
      case 'DE': {
        const city = DE_CITY_PICK.sample(rng);
        const name = rng.pick(DE_STREETS) + rng.pick(DE_STREET_TYPES);
        const street = `${name} ${rng.range(1, 140)}`;
        return {
          country,
          street,
          streetShort: street.replace('straße', 'str.'),
          city: city.name,
          postal: String(rng.range(city.zipLo, city.zipHi)).padStart(5, '0'),
        };
      }
      case 'FR': {
        const city = FR_CITY_PICK.sample(rng);
        const street = `${rng.range(1, 120)} ${rng.pick(FR_STREET_TYPES)} ${rng.pick(FR_STREETS)}`;
        return { country, street, streetShort: street.replace(/^(\d+) avenue/, '$1 av.').replace(/^(\d+) boulevard/, '$1 bd'), city: city.name, postal: rng.pick(city.zips) };
      }
    }
  }

  newPhone(country: Country, address: Address): Phone {
    const rng = this.rng;
    for (let attempt = 0; ; attempt++) {
      let nsn: string;
      switch (country) {
        case 'US': {
          const city = US_CITIES.find((c) => c.name === address.city);
          const area = city && rng.chance(0.85) ? rng.pick(city.areas) : rng.pick(US_CITY_PICK.sample(rng).areas);
          let exchange = 0;
          while (exchange === 0 || exchange % 100 === 11 || exchange === 555) exchange = rng.range(201, 999);
          nsn = area + String(exchange) + rng.digits(4);
          break;
        }
        case 'GB':
          nsn = '7' + rng.pick(['4', '5', '7', '8', '9']) + rng.range(1, 9) + rng.digits(7);
          if (nsn.startsWith('791')) nsn = '792' + nsn.slice(3);
          break;
        case 'DE':
          nsn = rng.pick(['151', '152', '157', '160', '162', '170', '171', '172', '173', '174', '175', '176', '177', '178', '179']) + rng.digits(8);
          break;
        case 'FR':
          nsn = rng.chance(0.7) ? '6' + rng.pick(['0', '1', '2', '4', '5', '6', '7', '8']) + rng.digits(7) : '7' + rng.range(3, 9) + rng.digits(7);
          break;
      }
      if (this.claim(`tel:${country}:${nsn}`) || attempt > 20) return { country, nsn };
    }
  }

  private newEmail(first: string, last: string, birth: string, country: Country, avoid: string | undefined): string {
    const rng = this.rng;
    const f = slug(first) || 'user';
    const l = slug(last) || 'mail';
    const yy = birth.slice(2, 4);
    const yyyy = birth.slice(0, 4);
    let domain: string;
    let local: string;
    if (avoid !== undefined && rng.chance(0.6)) {
      // A second address: same local part at another provider, or a work address.
      local = avoid.slice(0, avoid.indexOf('@'));
      const current = avoid.slice(avoid.indexOf('@') + 1);
      domain = current;
      for (let i = 0; i < 10 && domain === current; i++) domain = FREE_DOMAINS[country].sample(rng);
      if (domain === current) domain = rng.pick(COMPANY_DOMAINS);
    } else {
      const company = avoid !== undefined || rng.chance(P_COMPANY_EMAIL);
      domain = company ? rng.pick(COMPANY_DOMAINS) : FREE_DOMAINS[country].sample(rng);
      const r = rng.next();
      if (company) local = r < 0.6 ? `${f}.${l}` : r < 0.85 ? `${f[0]}${l}` : `${f}${l[0]}`;
      else if (r < 0.28) local = `${f}.${l}`;
      else if (r < 0.42) local = `${f}${l}`;
      else if (r < 0.52) local = `${f[0]}${l}`;
      else if (r < 0.62) local = `${f}.${l}${yy}`;
      else if (r < 0.7) local = `${f}${yyyy}`;
      else if (r < 0.76) local = `${l}.${f}`;
      else if (r < 0.81) local = `${f}_${l}`;
      else if (r < 0.86) local = `${f[0]}.${l}`;
      else local = `${f}${l}${rng.range(1, 99)}`;
    }
    for (let attempt = 0; attempt < 8; attempt++) {
      const candidate = attempt === 0 ? `${local}@${domain}` : `${local}${rng.range(1, attempt < 4 ? 99 : 9999)}@${domain}`;
      if (candidate !== avoid && this.claim(mailbox(candidate))) return candidate;
    }
    const fallback = `${local}.${this.count}x${rng.digits(3)}@${domain}`;
    this.claim(mailbox(fallback));
    return fallback;
  }

  private claim(value: string): boolean {
    const h = hash53(value);
    if (this.taken.has(h)) return false;
    this.taken.add(h);
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Record variants (realistic corruption)
// ---------------------------------------------------------------------------------------------

type SystemName = 'eCommerce' | 'Loyalty' | 'Website';

interface SystemNoise {
  /** Probability that names/cities lose their accents in this system. */
  fold: number;
  missingEmail: number;
  missingPhone: number;
  /** Probability of writing a US number in international form. */
  intlPhone: number;
}

const NOISE: Record<SystemName, SystemNoise> = {
  eCommerce: { fold: 0.15, missingEmail: 0.05, missingPhone: 0.12, intlPhone: 0.25 },
  Loyalty: { fold: 0.4, missingEmail: 0.15, missingPhone: 0.05, intlPhone: 0.6 },
  Website: { fold: 0.2, missingEmail: 0.02, missingPhone: 0.3, intlPhone: 0.4 },
};

function typo(rng: Rng, s: string): string {
  const positions: number[] = [];
  for (let i = 0; i < s.length; i++) if (/\p{L}/u.test(s[i])) positions.push(i);
  if (positions.length < 2) return s;
  const i = rng.pick(positions);
  const c = s[i];
  const op = rng.int(4);
  if (op === 0 && i + 1 < s.length) return s.slice(0, i) + s[i + 1] + c + s.slice(i + 2); // swap
  if (op === 1 && positions.length > 3) return s.slice(0, i) + s.slice(i + 1); // drop
  if (op === 2) return s.slice(0, i) + c + s.slice(i); // double
  const lower = c.toLowerCase();
  const near = KEYBOARD_NEIGHBOURS[lower];
  if (!near) return s.slice(0, i) + c + s.slice(i); // non-ASCII letter: double it instead
  let repl = near[rng.int(near.length)];
  if (c !== lower) repl = repl.toUpperCase();
  return s.slice(0, i) + repl + s.slice(i + 1);
}

function spaceNoise(rng: Rng, s: string): string {
  const r = rng.int(3);
  if (r === 0) return s + ' ';
  if (r === 1) return ' ' + s;
  const i = s.indexOf(' ');
  return i < 0 ? s + '  ' : s.slice(0, i) + '  ' + s.slice(i + 1);
}

function nameVariant(rng: Rng, p: Person, noise: SystemNoise): { first: string; last: string } {
  let first = p.first;
  let last = p.last;
  if (rng.chance(noise.fold)) {
    first = asciiFold(first);
    last = asciiFold(last);
  }
  if (rng.chance(0.08)) {
    if (rng.chance(0.5)) first = typo(rng, first);
    else last = typo(rng, last);
  }
  const c = rng.next();
  if (c < 0.04) {
    first = first.toUpperCase();
    last = last.toUpperCase();
  } else if (c < 0.07) {
    first = first.toLowerCase();
    last = last.toLowerCase();
  }
  return { first, last };
}

interface Variant {
  text: string;
  /** The value still links to the person's main identifier (modulo case/format). */
  intact: boolean;
}

function emailText(rng: Rng, email: string): string {
  const r = rng.next();
  if (r < 0.07) email = email.replace(/(^|[._@])([a-z])/g, (_, sep: string, ch: string) => sep + ch.toUpperCase());
  else if (r < 0.09) email = email.toUpperCase();
  if (rng.chance(0.02)) email = rng.chance(0.5) ? ` ${email}` : `${email} `;
  return email;
}

function emailVariant(rng: Rng, pop: Population, p: Person, missing: number, alt: number): Variant {
  const r = rng.next();
  if (r < missing) return { text: '', intact: false };
  if (r < missing + alt) return { text: emailText(rng, pop.altEmail(p)), intact: false };
  if (r < missing + alt + 0.015) {
    const at = p.email.indexOf('@');
    return { text: typo(rng, p.email.slice(0, at)) + p.email.slice(at), intact: false };
  }
  return { text: emailText(rng, p.email), intact: true };
}

function formatPhone(rng: Rng, phone: Phone, intlProbability: number): Variant {
  const d = phone.nsn;
  const cc = COUNTRY_CODE[phone.country];
  if (phone.country === 'US') {
    const a = d.slice(0, 3);
    const b = d.slice(3, 6);
    const c = d.slice(6);
    if (rng.chance(intlProbability)) {
      const f = rng.int(5);
      const text = f === 0 ? `+1 ${a} ${b} ${c}` : f === 1 ? `+1 (${a}) ${b}-${c}` : f === 2 ? `+1${d}` : f === 3 ? `1-${a}-${b}-${c}` : `+1-${a}-${b}-${c}`;
      return { text, intact: true };
    }
    const f = rng.int(5);
    const text = f === 0 ? `(${a}) ${b}-${c}` : f === 1 ? `${a}-${b}-${c}` : f === 2 ? `${a}.${b}.${c}` : f === 3 ? d : `${a} ${b} ${c}`;
    return { text, intact: true };
  }
  // Foreign numbers are mostly written internationally; a national form cannot be linked by a
  // US-default phone normalization, so it does not count as intact.
  let grouped: string;
  switch (phone.country) {
    case 'GB':
      grouped = `${d.slice(0, 4)} ${d.slice(4)}`;
      break;
    case 'DE':
      grouped = `${d.slice(0, 3)} ${d.slice(3)}`;
      break;
    case 'FR':
      grouped = `${d[0]} ${d.slice(1, 3)} ${d.slice(3, 5)} ${d.slice(5, 7)} ${d.slice(7)}`;
      break;
  }
  if (rng.chance(0.9)) return { text: rng.chance(0.7) ? `+${cc} ${grouped}` : `+${cc}${d}`, intact: true };
  return { text: rng.chance(0.7) ? `0${grouped}` : `0${d}`, intact: false };
}

function phoneVariant(rng: Rng, pop: Population, p: Person, noise: SystemNoise, missing: number): Variant {
  const r = rng.next();
  if (r < missing) return { text: '', intact: false };
  if (r < missing + 0.04) return { text: formatPhone(rng, pop.altPhone(p), noise.intlPhone).text, intact: false };
  return formatPhone(rng, p.phone, noise.intlPhone);
}

/** Email and phone for one record; most records keep at least one of them linkable. */
function contactVariant(rng: Rng, pop: Population, p: Person, noise: SystemNoise, duplicate: boolean): { email: string; phone: string } {
  let email = emailVariant(rng, pop, p, noise.missingEmail, duplicate ? 0.2 : 0.05);
  const phone = phoneVariant(rng, pop, p, noise, noise.missingPhone);
  if (!email.intact && !phone.intact && rng.chance(0.85)) email = { text: emailText(rng, p.email), intact: true };
  return { email: email.text, phone: phone.text };
}

function postalVariant(rng: Rng, a: Address, allowZip4: boolean): string {
  if (a.country === 'US') return allowZip4 && rng.chance(0.03) ? `${a.postal}-${rng.digits(4)}` : a.postal;
  if (a.country === 'GB') {
    const r = rng.next();
    if (r < 0.12) return a.postal.toLowerCase();
    if (r < 0.22) return a.postal.replace(' ', '');
  }
  return a.postal;
}

function cityVariant(rng: Rng, city: string, noise: SystemNoise): string {
  if (rng.chance(noise.fold)) city = asciiFold(city);
  const r = rng.next();
  if (r < 0.06) return city.toUpperCase();
  if (r < 0.08) return city.toLowerCase();
  return city;
}

// ---------------------------------------------------------------------------------------------
// Output helpers
// ---------------------------------------------------------------------------------------------

class LineWriter {
  private parts: string[] = [];
  private size = 0;
  private readonly stream: WriteStream;

  private error: Error | undefined;

  constructor(readonly file: string) {
    this.stream = createWriteStream(file, { encoding: 'utf8' });
    // Keep the first error (e.g. EACCES on open) so it is thrown from flush()/close() instead of crashing.
    this.stream.on('error', (err: Error) => {
      this.error ??= err;
    });
  }

  push(line: string): void {
    this.parts.push(line);
    this.size += line.length;
  }

  get full(): boolean {
    return this.size >= CHUNK_CHARS;
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (this.error) throw this.error;
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.error) throw this.error;
    this.stream.end();
    await finished(this.stream);
  }

  destroy(): void {
    this.stream.destroy();
  }
}

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

function csvField(v: string): string {
  return NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvLine(values: readonly string[]): string {
  let line = csvField(values[0]);
  for (let i = 1; i < values.length; i++) line += ',' + csvField(values[i]);
  return line + '\n';
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function isoDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

/** A second-resolution instant uniformly in [lo, hi). */
function between(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(Math.max(1, Math.floor((hi - lo) / 1000))) * 1000;
}

/** Key permutations: distinct for distinct counters, but not in insertion order. */
function decimalKey(prefix: string, counter: number, mul: number, add: number): string {
  const P = 99_999_989; // prime
  return prefix + String((counter * mul + add) % P).padStart(8, '0');
}

function hexKey(prefix: string, counter: number): string {
  return prefix + ((Math.imul(counter, 0x9e3779b1) ^ 0x5f3759df) >>> 0).toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

interface PendingCopy {
  person: Person;
  system: SystemName;
}

export async function generateSyntheticSources(options: GenerateOptions): Promise<GenerateResult> {
  const records = options.records;
  if (!Number.isInteger(records) || records < 0) throw new Error(`records must be a non-negative integer, got ${records}`);
  const seed = options.seed ?? 42;
  if (!Number.isFinite(seed)) throw new Error(`seed must be a number, got ${seed}`);
  const lambda = options.activitiesPerCustomer ?? 2;
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new Error(`activitiesPerCustomer must be >= 0, got ${lambda}`);
  const instanceId = options.instanceId ?? 'generated';
  if (!/^[a-z0-9][a-z0-9-]*$/.test(instanceId) || instanceId.length > 64) {
    throw new Error(`instanceId must match ^[a-z0-9][a-z0-9-]*$ (max 64 characters), got "${instanceId}"`);
  }

  const outDir = path.resolve(options.outDir);
  const L = SYNTHETIC_LAYOUT;
  const dataPaths = [L.eCommerce.contacts.path, L.eCommerce.purchases.path, L.Loyalty.customers.path, L.Website.users.path, L.Website.reviews.path];
  for (const dir of new Set(dataPaths.map((p) => path.dirname(path.join(outDir, p))))) await mkdir(dir, { recursive: true });

  const ecContacts = new LineWriter(path.join(outDir, L.eCommerce.contacts.path));
  const ecPurchases = new LineWriter(path.join(outDir, L.eCommerce.purchases.path));
  const loyCustomers = new LineWriter(path.join(outDir, L.Loyalty.customers.path));
  const webUsers = new LineWriter(path.join(outDir, L.Website.users.path));
  const webReviews = new LineWriter(path.join(outDir, L.Website.reviews.path));
  const truth = new LineWriter(path.join(outDir, L.truth));
  const writers = [ecContacts, ecPurchases, loyCustomers, webUsers, webReviews, truth];
  ecContacts.push(csvLine(EC_CONTACT_COLUMNS));
  ecPurchases.push(csvLine(EC_PURCHASE_COLUMNS));
  loyCustomers.push(csvLine(LOY_COLUMNS));
  truth.push('dataSource,entity,key,personId\n');

  const rng = new Rng(seed);
  const pop = new Population(rng);
  const counters = { ec: 0, loy: 0, web: 0, purchase: 0, review: 0 };
  let written = 0;
  let activities = 0;

  const emitEcommerce = (p: Person, duplicate: boolean): void => {
    const noise = NOISE.eCommerce;
    const key = decimalKey('C', ++counters.ec, 7_919_393, 1_000_003);
    const { first, last } = nameVariant(rng, p, noise);
    let full = `${first} ${last}`;
    if (rng.chance(0.04)) full = spaceNoise(rng, full);
    const firstOut = rng.chance(0.02) ? spaceNoise(rng, first) : first;
    const { email, phone } = contactVariant(rng, pop, p, noise, duplicate);
    const moved = rng.chance(0.03);
    const address = moved ? pop.newAddress(p.country) : p.address;
    const street = rng.chance(0.5) ? address.streetShort : address.street;
    const country = rng.chance(0.85) ? p.country : rng.pick(COUNTRY_NAMES[p.country]);
    const birth = rng.chance(0.04) ? '' : p.birth;
    const updated = between(rng, p.since, BASE_MS);
    ecContacts.push(
      csvLine([key, firstOut, last, full, email, phone, rng.chance(0.05) ? street.toUpperCase() : street, cityVariant(rng, address.city, noise), postalVariant(rng, address, true), country, birth, isoDateTime(updated)]),
    );
    truth.push(`eCommerce,eCommerceContacts,${key},${p.id}\n`);
    const k = rng.poisson(lambda);
    for (let i = 0; i < k; i++) {
      const [product, price] = PRODUCT_PICK.sample(rng);
      const qty = rng.chance(0.72) ? 1 : rng.chance(0.7) ? 2 : rng.range(3, 6);
      const id = `PO-${String(++counters.purchase).padStart(8, '0')}`;
      ecPurchases.push(csvLine([id, key, isoDateTime(between(rng, p.since, BASE_MS)), product, String(qty), (price * qty).toFixed(2)]));
    }
    activities += k;
  };

  const emitLoyalty = (p: Person, duplicate: boolean): void => {
    const noise = NOISE.Loyalty;
    const key = decimalKey('LOY', ++counters.loy, 5_237_011, 7_777_777);
    const { first, last } = nameVariant(rng, p, noise);
    let name = rng.chance(0.35) ? `${last}, ${first}` : `${first} ${last}`;
    if (rng.chance(0.04)) name = spaceNoise(rng, name);
    const { email, phone } = contactVariant(rng, pop, p, noise, duplicate);
    const tierRoll = rng.next();
    const tier = tierRoll < 0.5 ? 'Bronze' : tierRoll < 0.8 ? 'Silver' : tierRoll < 0.95 ? 'Gold' : 'Platinum';
    const joined = between(rng, p.since, BASE_MS - DAY_MS);
    const updated = between(rng, joined, BASE_MS);
    loyCustomers.push(csvLine([key, name, email, phone, postalVariant(rng, p.address, false), cityVariant(rng, p.address.city, noise), tier, isoDate(joined), isoDateTime(updated)]));
    truth.push(`Loyalty,loyCustomers,${key},${p.id}\n`);
  };

  const emitWebsite = (p: Person, duplicate: boolean): void => {
    const noise = NOISE.Website;
    const key = hexKey('u-', ++counters.web);
    const { first, last } = nameVariant(rng, p, noise);
    let display = rng.chance(0.05) ? `${first} ${last[0] ?? ''}.` : `${first} ${last}`;
    if (rng.chance(0.03)) display = spaceNoise(rng, display);
    const { email, phone } = contactVariant(rng, pop, p, noise, duplicate);
    const postCode = rng.chance(0.3) ? null : postalVariant(rng, p.address, false);
    const created = between(rng, p.since, BASE_MS - DAY_MS);
    webUsers.push(
      JSON.stringify({ UserId: key, DisplayName: display, Email: email || null, PhoneNumber: phone || null, PostCode: postCode, CreatedAt: isoDateTime(created) }) + '\n',
    );
    truth.push(`Website,webUsers,${key},${p.id}\n`);
    const k = rng.poisson(lambda);
    for (let i = 0; i < k; i++) {
      const [product] = PRODUCT_PICK.sample(rng);
      const rr = rng.next();
      const rating = rr < 0.06 ? 1 : rr < 0.13 ? 2 : rr < 0.28 ? 3 : rr < 0.58 ? 4 : 5;
      const id = `R-${String(++counters.review).padStart(8, '0')}`;
      webReviews.push(
        JSON.stringify({ ReviewId: id, UserId: key, ReviewedAt: isoDateTime(between(rng, created, BASE_MS)), ProductName: product, Rating: rating, Text: rng.pick(REVIEW_TEXTS[rating]) }) + '\n',
      );
    }
    activities += k;
  };

  const emit = (c: PendingCopy, duplicate: boolean): void => {
    if (c.system === 'eCommerce') emitEcommerce(c.person, duplicate);
    else if (c.system === 'Loyalty') emitLoyalty(c.person, duplicate);
    else emitWebsite(c.person, duplicate);
    written++;
  };

  // Duplicates are written a little later than the original so they do not sit next to it.
  const DELAY_SLOTS = 256;
  const delayed: PendingCopy[][] = Array.from({ length: DELAY_SLOTS }, () => []);
  const progressEvery = Math.max(1000, Math.floor(records / 200));
  let nextProgress = progressEvery;
  let scheduled = 0;
  let tick = 0;

  const flushFull = async (): Promise<void> => {
    for (const w of writers) if (w.full) await w.flush();
    if (options.onProgress && written >= nextProgress) {
      options.onProgress(written, records);
      while (nextProgress <= written) nextProgress += progressEvery;
    }
  };

  try {
    while (scheduled < records) {
      const slot = delayed[tick % DELAY_SLOTS];
      for (const c of slot) emit(c, true);
      slot.length = 0;
      tick++;

      const p = pop.next();
      let systems: SystemName[];
      do {
        systems = [];
        if (rng.chance(P_IN_SYSTEM.eCommerce)) systems.push('eCommerce');
        if (rng.chance(P_IN_SYSTEM.Loyalty)) systems.push('Loyalty');
        if (rng.chance(P_IN_SYSTEM.Website)) systems.push('Website');
      } while (systems.length === 0);
      const dups: SystemName[] = [];
      for (const s of systems) {
        if (rng.chance(P_DUPLICATE)) {
          dups.push(s);
          if (rng.chance(P_SECOND_DUPLICATE)) dups.push(s);
        }
      }
      const remaining = records - scheduled;
      const originals = systems.slice(0, remaining);
      const extra = dups.slice(0, remaining - originals.length);
      scheduled += originals.length + extra.length;
      for (const s of originals) emit({ person: p, system: s }, false);
      for (const s of extra) delayed[(tick + rng.range(1, DELAY_SLOTS - 2)) % DELAY_SLOTS].push({ person: p, system: s });

      if ((tick & 63) === 0) await flushFull();
    }
    for (let i = 0; i < DELAY_SLOTS; i++) {
      const slot = delayed[(tick + i) % DELAY_SLOTS];
      for (const c of slot) emit(c, true);
      slot.length = 0;
      if ((i & 15) === 0) await flushFull();
    }
    for (const w of writers) await w.close();
  } catch (err) {
    for (const w of writers) w.destroy();
    throw err;
  }
  options.onProgress?.(written, records);

  const instanceFile = path.join(outDir, L.instance);
  const definition = buildSyntheticInstance({
    id: instanceId,
    name: options.instanceName ?? 'Synthetic customers',
    description: `Synthetic data from kindred generate: ${written} customer records of ${pop.size} people, ${activities} activities (seed ${seed}). Ground truth in ${L.truth}.`,
    schedule: options.schedule,
    filterIndex: options.filterIndex,
  });
  const header =
    `# Kindred instance over synthetic sources (seed ${seed}, ${written} customer records).\n` +
    `# Paths are relative to this file; ${L.truth} maps every customer record to its true person.\n`;
  await writeFile(instanceFile, header + yamlStringify(definition, { lineWidth: 0, aliasDuplicateObjects: false }), 'utf8');

  return {
    files: [...writers.map((w) => w.file), instanceFile],
    people: pop.size,
    customerRecords: written,
    activityRecords: activities,
    instanceFile,
    truthFile: truth.file,
  };
}

// ---------------------------------------------------------------------------------------------
// The instance definition
// ---------------------------------------------------------------------------------------------

const EMAIL: Normalization[] = ['email'];
const PHONE: Normalization[] = ['phone'];
const NAME: Normalization[] = ['name', 'ascii', 'lowercase', 'whitespace'];
const POSTAL: Normalization[] = ['whitespace', 'lowercase'];

function exact(field: string, normalize: Normalization[], otherField?: string): ConditionDef {
  const c: ConditionDef = { field };
  if (otherField !== undefined) c.otherField = otherField;
  if (normalize.length > 0) c.normalize = [...normalize];
  if (normalize.includes('phone')) c.phoneRegion = 'US';
  c.precision = 'exact';
  return c;
}

function similar(field: string, otherField?: string): ConditionDef {
  const c: ConditionDef = { field };
  if (otherField !== undefined) c.otherField = otherField;
  c.normalize = [...NAME];
  c.precision = 'high';
  return c;
}

/** The instance definition written next to the generated files (paths relative to it). */
export function buildSyntheticInstance(meta: {
  id: string;
  name?: string;
  description?: string;
  schedule?: { cron: string; timezone?: string };
  filterIndex?: string[];
}): InstanceDefinition {
  const L = SYNTHETIC_LAYOUT;
  const EC = `eCommerce.${L.eCommerce.contacts.entity}`;
  const LOY = `Loyalty.${L.Loyalty.customers.entity}`;
  const WEB = `Website.${L.Website.users.entity}`;
  const PURCHASES = `eCommerce.${L.eCommerce.purchases.entity}`;
  const REVIEWS = `Website.${L.Website.reviews.entity}`;
  const def: InstanceDefinition = {
    id: meta.id,
    ...(meta.name !== undefined ? { name: meta.name } : {}),
    ...(meta.description !== undefined ? { description: meta.description } : {}),
    defaultPhoneRegion: 'US',
    ...(meta.schedule ? { schedule: { ...meta.schedule } } : {}),
    ...(meta.filterIndex?.length ? { filterIndex: [...meta.filterIndex] } : {}),
    dataSources: [
      {
        name: 'eCommerce',
        type: 'csv',
        delimiter: ',',
        header: true,
        encoding: 'utf-8',
        entities: [
          {
            name: L.eCommerce.contacts.entity,
            path: L.eCommerce.contacts.path,
            primaryKey: 'ContactId',
            lastModified: 'UpdatedAt',
            columns: [
              { name: 'ContactId', type: 'string' },
              { name: 'FirstName', type: 'string', semanticType: 'Person.FirstName' },
              { name: 'LastName', type: 'string', semanticType: 'Person.LastName' },
              { name: 'FullName', type: 'string', semanticType: 'Person.FullName' },
              { name: 'Email', type: 'string', semanticType: 'Identity.Service.Email' },
              { name: 'Phone', type: 'string', semanticType: 'Identity.Service.Phone' },
              { name: 'Street', type: 'string', semanticType: 'Location.Street' },
              { name: 'City', type: 'string', semanticType: 'Location.City' },
              { name: 'PostalCode', type: 'string', semanticType: 'Location.PostalCode' },
              { name: 'Country', type: 'string', semanticType: 'Location.Country' },
              { name: 'BirthDate', type: 'date', semanticType: 'Person.BirthDate' },
              { name: 'UpdatedAt', type: 'datetime' },
            ],
          },
          {
            name: L.eCommerce.purchases.entity,
            path: L.eCommerce.purchases.path,
            primaryKey: 'PurchaseId',
            columns: [
              { name: 'PurchaseId', type: 'string' },
              { name: 'ContactId', type: 'string' },
              { name: 'PurchasedOn', type: 'datetime' },
              { name: 'ProductName', type: 'string' },
              { name: 'Quantity', type: 'integer' },
              { name: 'TotalPrice', type: 'decimal' },
            ],
          },
        ],
      },
      {
        name: 'Loyalty',
        type: 'csv',
        delimiter: ',',
        header: true,
        encoding: 'utf-8',
        entities: [
          {
            name: L.Loyalty.customers.entity,
            path: L.Loyalty.customers.path,
            primaryKey: 'LoyaltyId',
            lastModified: 'LastUpdated',
            columns: [
              { name: 'LoyaltyId', type: 'string' },
              { name: 'Name', type: 'string', semanticType: 'Person.FullName' },
              { name: 'EMail', type: 'string', semanticType: 'Identity.Service.Email' },
              { name: 'Mobile', type: 'string', semanticType: 'Identity.Service.Phone' },
              { name: 'ZipCode', type: 'string', semanticType: 'Location.PostalCode' },
              { name: 'City', type: 'string', semanticType: 'Location.City' },
              { name: 'Tier', type: 'string' },
              { name: 'JoinedOn', type: 'date' },
              { name: 'LastUpdated', type: 'datetime' },
            ],
          },
        ],
      },
      {
        name: 'Website',
        type: 'jsonl',
        encoding: 'utf-8',
        entities: [
          {
            name: L.Website.users.entity,
            path: L.Website.users.path,
            primaryKey: 'UserId',
            lastModified: 'CreatedAt',
            columns: [
              { name: 'UserId', type: 'string' },
              { name: 'DisplayName', type: 'string', semanticType: 'Person.FullName' },
              { name: 'Email', type: 'string', semanticType: 'Identity.Service.Email' },
              { name: 'PhoneNumber', type: 'string', semanticType: 'Identity.Service.Phone' },
              { name: 'PostCode', type: 'string', semanticType: 'Location.PostalCode' },
              { name: 'CreatedAt', type: 'datetime' },
            ],
          },
          {
            name: L.Website.reviews.entity,
            path: L.Website.reviews.path,
            primaryKey: 'ReviewId',
            columns: [
              { name: 'ReviewId', type: 'string' },
              { name: 'UserId', type: 'string' },
              { name: 'ReviewedAt', type: 'datetime' },
              { name: 'ProductName', type: 'string' },
              { name: 'Rating', type: 'integer' },
              { name: 'Text', type: 'string' },
            ],
          },
        ],
      },
    ],
    unification: {
      deduplication: [
        {
          entity: EC,
          winner: 'mostRecent',
          rules: [
            { name: 'Same email', conditions: [exact('Email', EMAIL)] },
            { name: 'Same phone and similar name', conditions: [exact('Phone', PHONE), similar('FullName')] },
            { name: 'Same birth date and postal code, similar name', conditions: [exact('BirthDate', []), exact('PostalCode', POSTAL), similar('FullName')] },
          ],
        },
        {
          entity: LOY,
          winner: 'mostRecent',
          rules: [
            { name: 'Same email', conditions: [exact('EMail', EMAIL)] },
            { name: 'Same mobile and similar name', conditions: [exact('Mobile', PHONE), similar('Name')] },
          ],
        },
        {
          entity: WEB,
          winner: 'mostRecent',
          rules: [
            { name: 'Same email', conditions: [exact('Email', EMAIL)] },
            { name: 'Same phone and similar name', conditions: [exact('PhoneNumber', PHONE), similar('DisplayName')] },
          ],
        },
      ],
      matching: [
        { entity: EC, includeAllRecords: true },
        {
          entity: LOY,
          includeAllRecords: true,
          rules: [
            { name: 'Email', matchTo: EC, conditions: [exact('EMail', EMAIL, 'Email')] },
            { name: 'Phone and name', matchTo: EC, conditions: [exact('Mobile', PHONE, 'Phone'), similar('Name', 'FullName')] },
          ],
        },
        {
          entity: WEB,
          includeAllRecords: true,
          rules: [
            { name: 'Email (eCommerce)', matchTo: EC, conditions: [exact('Email', EMAIL, 'Email')] },
            { name: 'Phone and name (eCommerce)', matchTo: EC, conditions: [exact('PhoneNumber', PHONE, 'Phone'), similar('DisplayName', 'FullName')] },
            { name: 'Email (Loyalty)', matchTo: LOY, conditions: [exact('Email', EMAIL, 'EMail')] },
            { name: 'Phone and name (Loyalty)', matchTo: LOY, conditions: [exact('PhoneNumber', PHONE, 'Mobile'), similar('DisplayName', 'Name')] },
          ],
        },
      ],
      merge: {
        defaultPolicy: 'importance',
        sourceOrder: [EC, LOY, WEB],
        fields: [
          { name: 'FullName', from: [`${EC}.FullName`, `${LOY}.Name`, `${WEB}.DisplayName`] },
          { name: 'FirstName', from: [`${EC}.FirstName`] },
          { name: 'LastName', from: [`${EC}.LastName`] },
          { name: 'Email', from: [`${EC}.Email`, `${LOY}.EMail`, `${WEB}.Email`], policy: 'mostRecent' },
          { name: 'Phone', from: [`${EC}.Phone`, `${LOY}.Mobile`, `${WEB}.PhoneNumber`], policy: 'mostRecent' },
          { name: 'Street', from: [`${EC}.Street`] },
          { name: 'City', from: [`${EC}.City`, `${LOY}.City`] },
          { name: 'PostalCode', from: [`${EC}.PostalCode`, `${LOY}.ZipCode`, `${WEB}.PostCode`] },
          { name: 'Country', from: [`${EC}.Country`] },
          { name: 'BirthDate', from: [`${EC}.BirthDate`], type: 'date' },
          { name: 'LoyaltyTier', from: [`${LOY}.Tier`] },
          { name: 'LoyaltyJoinedOn', from: [`${LOY}.JoinedOn`], type: 'date' },
        ],
      },
    },
    activities: [
      {
        entity: `eCommerce.${L.eCommerce.purchases.entity}`,
        primaryKey: 'PurchaseId',
        timestamp: 'PurchasedOn',
        customer: { entity: EC, foreignKey: 'ContactId' },
        type: 'Purchase',
        typeDisplay: 'Purchase',
        title: 'Bought {Quantity} × {ProductName}',
        description: 'Order {PurchaseId}: {Quantity} × {ProductName} for {TotalPrice}',
        url: 'https://shop.example.com/orders/{PurchaseId}',
        icon: 'shopping-cart',
        showInTimeline: true,
      },
      {
        entity: `Website.${L.Website.reviews.entity}`,
        primaryKey: 'ReviewId',
        timestamp: 'ReviewedAt',
        customer: { entity: WEB, foreignKey: 'UserId' },
        type: 'Review',
        typeDisplay: 'Product review',
        title: 'Reviewed {ProductName}: {Rating}/5',
        description: '{Text}',
        url: 'https://www.example.com/reviews/{ReviewId}',
        icon: 'star',
        showInTimeline: true,
      },
    ],
    // What marketers compute in each refresh (windows end at the refresh time; the data ends at BASE_MS).
    measures: [
      { name: 'TotalSpend', description: 'Total purchase amount', aggregation: 'sum', source: { entity: PURCHASES }, field: 'TotalPrice' },
      { name: 'PurchaseCount', description: 'Number of purchases', aggregation: 'count', source: { activity: 'Purchase' } },
      {
        name: 'PurchasesLast12Months',
        description: 'Purchases in the last 12 months',
        aggregation: 'count',
        source: { activity: 'Purchase' },
        window: { last: 12, unit: 'months' },
      },
      { name: 'LastPurchaseDate', description: 'Date of the latest purchase', aggregation: 'max', source: { activity: 'Purchase' }, field: 'ActivityTime' },
      {
        name: 'BiggestPurchase',
        description: 'Product of the most expensive purchase',
        aggregation: 'argMax',
        source: { entity: PURCHASES },
        field: 'ProductName',
        by: 'TotalPrice',
      },
      { name: 'AverageRating', description: "Average rating of the customer's reviews", aggregation: 'average', source: { entity: REVIEWS }, field: 'Rating' },
      { name: 'ProductsReviewed', description: 'Distinct products reviewed', aggregation: 'countDistinct', source: { entity: REVIEWS }, field: 'ProductName' },
      { name: 'TotalRevenue', description: 'Revenue of all purchases', kind: 'business', aggregation: 'sum', source: { entity: PURCHASES }, field: 'TotalPrice' },
      { name: 'AverageSpend', description: 'Average total spend of customers who bought', kind: 'business', aggregation: 'average', source: { measure: 'TotalSpend' } },
      {
        name: 'LargeOrdersLast12Months',
        description: 'Orders over 200 in the last 12 months',
        kind: 'business',
        aggregation: 'count',
        source: { entity: PURCHASES },
        filter: [{ field: 'TotalPrice', operator: 'gt', value: 200 }],
        window: { last: 12, unit: 'months' },
      },
    ],
    segments: [
      { name: 'BigSpenders', description: 'Customers who spent 500 or more', rules: [{ conditions: [{ measure: 'TotalSpend', operator: 'ge', value: 500 }] }] },
      {
        name: 'RecentReviewers',
        description: 'Wrote a review in the last 12 months',
        rules: [{ conditions: [{ activity: 'Review', window: { last: 12, unit: 'months' } }] }],
      },
      {
        name: 'LapsedBuyers',
        description: 'Bought before, but not in the last 12 months',
        rules: [
          {
            join: 'and',
            conditions: [
              { measure: 'PurchaseCount', operator: 'ge', value: 1 },
              { activity: 'Purchase', window: { last: 12, unit: 'months' }, operator: 'eq', value: 0 },
            ],
          },
        ],
      },
      {
        name: 'Vip',
        description: 'Big spenders or Gold members, with an email address to reach them',
        rules: [
          { conditions: [{ measure: 'TotalSpend', operator: 'ge', value: 1000 }] },
          { combine: 'union', conditions: [{ field: 'LoyaltyTier', operator: 'eq', value: 'Gold' }] },
          { combine: 'except', conditions: [{ field: 'Email', operator: 'isNull' }] },
        ],
      },
      {
        name: 'HappyReviewers',
        description: 'Average rating of 4 or more, or a 5-star review',
        rules: [
          {
            join: 'or',
            conditions: [
              { measure: 'AverageRating', operator: 'ge', value: 4 },
              { activity: 'Review', filter: [{ field: 'Title', operator: 'contains', value: '5/5' }] },
            ],
          },
        ],
      },
    ],
  };
  return def;
}
