// Email domain with free-mail versus business and disposable-domain flags. Disposable domains come
// from the disposable-email-domains package (a maintained list, plus its wildcard list whose
// subdomains are disposable too); free-mail providers from the list below.
import { createRequire } from 'node:module';

export interface EmailEnrichment {
  domain: string | null;
  valid: boolean;
  freeMail: boolean;
  disposable: boolean;
  /** A valid address that is neither free mail nor disposable: most likely a company's. */
  business: boolean;
}

/**
 * Consumer mail providers (not a package: none of the maintained lists is installed). Compiled
 * for Kindred from the large consumer providers per market (Google, Yahoo, Microsoft, Apple,
 * Proton, GMX/Web.de, Orange, Mail.ru, QQ/NetEase, Naver, US and EU ISPs); kept short on purpose,
 * extend it here when a market needs more.
 */
export const FREE_MAIL_DOMAINS: readonly string[] = [
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'yahoo.de', 'yahoo.es', 'yahoo.it', 'yahoo.co.jp', 'yahoo.com.br',
  'ymail.com', 'rocketmail.com', 'hotmail.com', 'hotmail.co.uk', 'hotmail.fr', 'hotmail.de', 'hotmail.it', 'hotmail.es', 'outlook.com',
  'outlook.de', 'outlook.fr', 'live.com', 'live.co.uk', 'live.fr', 'live.de', 'msn.com', 'aol.com', 'aim.com', 'icloud.com', 'me.com',
  'mac.com', 'proton.me', 'protonmail.com', 'pm.me', 'tutanota.com', 'tuta.io', 'zoho.com', 'zohomail.com', 'yandex.com', 'yandex.ru',
  'mail.ru', 'bk.ru', 'inbox.ru', 'list.ru', 'gmx.com', 'gmx.net', 'gmx.de', 'gmx.at', 'gmx.ch', 'web.de', 't-online.de', 'freenet.de',
  'orange.fr', 'wanadoo.fr', 'free.fr', 'laposte.net', 'sfr.fr', 'libero.it', 'virgilio.it', 'tiscali.it', 'alice.it', 'btinternet.com',
  'sky.com', 'virginmedia.com', 'ntlworld.com', 'qq.com', '163.com', '126.com', 'sina.com', 'naver.com', 'hanmail.net', 'daum.net',
  'rediffmail.com', 'seznam.cz', 'wp.pl', 'o2.pl', 'interia.pl', 'onet.pl', 'comcast.net', 'verizon.net', 'att.net', 'sbcglobal.net',
  'bellsouth.net', 'cox.net', 'charter.net', 'earthlink.net', 'juno.com', 'mail.com', 'email.com', 'usa.com', 'hey.com', 'fastmail.com',
  'fastmail.fm', 'hushmail.com', 'bluewin.ch', 'telenet.be', 'skynet.be', 'ziggo.nl', 'kpnmail.nl', 'planet.nl', 'home.nl', 'bigpond.com',
  'optusnet.com.au', 'shaw.ca', 'rogers.com', 'sympatico.ca', 'uol.com.br', 'bol.com.br', 'terra.com.br',
];

const require = createRequire(import.meta.url);

/** The lists, loaded once per EmailEnricher (not at import time). */
export class EmailEnricher {
  private readonly free = new Set(FREE_MAIL_DOMAINS);
  private readonly disposable: Set<string>;
  private readonly disposableParents: Set<string>;

  constructor() {
    this.disposable = new Set(require('disposable-email-domains') as string[]);
    this.disposableParents = new Set(require('disposable-email-domains/wildcard.json') as string[]);
  }

  isDisposable(domain: string): boolean {
    if (this.disposable.has(domain)) return true;
    // wildcard entries: every subdomain of them is disposable too
    for (let i = domain.indexOf('.'); i >= 0; i = domain.indexOf('.', i + 1)) {
      const parent = domain.slice(i + 1);
      if (this.disposableParents.has(parent) || this.disposable.has(parent)) return true;
    }
    return this.disposableParents.has(domain);
  }

  enrich(value: string): EmailEnrichment {
    const text = value.trim().toLowerCase();
    const at = text.lastIndexOf('@');
    const local = at > 0 ? text.slice(0, at) : '';
    const domain = at > 0 ? text.slice(at + 1).replace(/\.$/, '') : '';
    const valid = local.length > 0 && !/\s/.test(local) && /^(?=.{3,253}$)([a-z0-9-]+\.)+[a-z][a-z0-9-]+$/.test(domain) && !domain.split('.').some((l) => l.startsWith('-') || l.endsWith('-'));
    if (!valid) return { domain: domain || null, valid: false, freeMail: false, disposable: false, business: false };
    const freeMail = this.free.has(domain);
    const disposable = this.isDisposable(domain);
    return { domain, valid: true, freeMail, disposable, business: !freeMail && !disposable };
  }
}
