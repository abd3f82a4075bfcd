// tapwire's local certificate authority, for the proxy's interception (docs/intercept.md):
// made at first use and kept as two PEM files (the key 0600 in a 0700 directory), and the
// leaf certificates it signs on the fly for the hosts it intercepts. Keys are made by
// node:crypto, certificates by node-forge (no openssl shell-out). As in mitmproxy, one leaf
// key serves every leaf (minting stays cheap); leaves are cached per host.
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import forge from 'node-forge';
import { ConfigError } from '../config/config.js';

/** Where the CA lives without proxy.ca_dir. */
export function defaultCaDir(): string {
  return join(homedir(), '.tapwire', 'ca');
}

export interface CaFiles {
  /** The CA certificate agents are told to trust. */
  cert: string;
  /** Its private key: mode 0600, never logged or recorded. */
  key: string;
  /**
   * The CA certificate after the bundled public roots: for clients whose CA setting replaces
   * the system's (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE), so tunnelled hosts still verify.
   */
  bundle: string;
}

export function caFiles(dir: string): CaFiles {
  return { cert: join(dir, 'tapwire-ca.pem'), key: join(dir, 'tapwire-ca-key.pem'), bundle: join(dir, 'tapwire-ca-bundle.pem') };
}

const CA_YEARS = 10;
/** Leaves live a year (browsers refuse longer than 398 days). */
const LEAF_DAYS = 365;

/** A certificate's key pair, as PEM. */
interface KeyPair {
  publicKey: string;
  privateKey: string;
}

function rsaKeyPair(): KeyPair {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** A positive random serial number (hex, high bit clear). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/**
 * Signs `cert` (SHA-256 with RSA) with node:crypto rather than forge's own RSA, which is
 * pure JavaScript and some hundred times slower: what forge's cert.sign() does, with the
 * signature made by OpenSSL.
 */
/** forge.pki.getTBSCertificate is there (forge's own cert.sign() calls it); @types/node-forge leaves it out. */
const pki = forge.pki as typeof forge.pki & { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };

function signCertificate(cert: forge.pki.Certificate, key: KeyObject): void {
  cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption!;
  const tbs = forge.asn1.toDer(pki.getTBSCertificate(cert)).getBytes();
  cert.signature = sign('sha256', Buffer.from(tbs, 'binary'), key).toString('binary');
}

/** A self-signed CA certificate and its key, as PEM. */
export function createCa(commonName = 'tapwire local CA'): { cert: string; key: string } {
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = serialNumber();
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + CA_YEARS * 365 * 24 * 3600_000);
  const name = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'tapwire' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCertificate(cert, createPrivateKey(keys.privateKey));
  return { cert: forge.pki.certificateToPem(cert), key: keys.privateKey };
}

/** A CA as mintLeaf signs with it: its certificate, and its key. */
export interface Signer {
  cert: forge.pki.Certificate;
  key: KeyObject;
}

/** The CA's certificate and key (PEM), read once for every leaf it signs. */
export function signer(ca: { cert: string; key: string }): Signer {
  return { cert: forge.pki.certificateFromPem(ca.cert), key: createPrivateKey(ca.key) };
}

/** A leaf certificate for `hosts` (DNS names or IP addresses), signed by the CA, for `leafPublicKey`. */
export function mintLeaf(hosts: readonly string[], leafPublicKey: string, ca: Signer): string {
  const caCert = ca.cert;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(leafPublicKey);
  cert.serialNumber = serialNumber();
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + LEAF_DAYS * 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: hosts[0]!.slice(0, 64) }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }));
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  signCertificate(cert, ca.key);
  return forge.pki.certificateToPem(cert);
}

/** Writes `text` to `file` with `mode`, whole or not at all (a temporary file renamed). */
function writeAtomically(file: string, text: string, mode: number): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode, flag: 'w' });
  chmodSync(temporary, mode);
  renameSync(temporary, file);
}

/** Makes a new CA in `dir`, replacing any there. */
function writeCa(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = caFiles(dir);
  const ca = createCa();
  // The key first: a certificate never sits beside a key that is not its own.
  writeAtomically(files.key, ca.key, 0o600);
  writeAtomically(files.cert, ca.cert, 0o644);
  writeBundle(files.bundle, ca.cert);
}

/** The public roots Node ships, then the CA: for clients whose CA setting replaces the system's. */
function writeBundle(file: string, caCert: string): void {
  writeAtomically(file, `${rootCertificates.join('\n')}\n${caCert}`, 0o644);
}

/** Runs a file operation on the CA's directory; its failure (a directory not writable, say) is a ConfigError naming it. */
function inCaDir<T>(dir: string, operation: () => T): T {
  try {
    return operation();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`the local CA in ${dir} (proxy.ca_dir): ${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim());
  }
}

/** tapwire's CA, read from (or first made in) its directory, and the leaves it signs. */
export class LocalCa {
  readonly files: CaFiles;
  /** The CA certificate, PEM: what agents trust. */
  readonly cert: string;
  readonly #signer: Signer;
  readonly #leafKeys = rsaKeyPair();
  readonly #leaves = new Map<string, SecureContext>();

  private constructor(dir: string) {
    this.files = caFiles(dir);
    const { mode } = statSync(this.files.key);
    if ((mode & 0o077) !== 0) {
      throw new ConfigError(`the CA key ${this.files.key} can be read by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it, or make a new CA with tapwire ca --rotate`);
    }
    const key = readFileSync(this.files.key, 'utf8');
    this.cert = readFileSync(this.files.cert, 'utf8');
    const x509 = new X509Certificate(this.cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) {
      throw new ConfigError(`the CA certificate ${this.files.cert} does not belong to the key ${this.files.key}: make a new CA with tapwire ca --rotate`);
    }
    if (new Date(x509.validTo).getTime() < Date.now()) {
      throw new ConfigError(`the CA certificate ${this.files.cert} expired on ${x509.validTo}: make a new CA with tapwire ca --rotate`);
    }
    this.#signer = signer({ cert: this.cert, key });
  }

  /** The CA in `dir`, made there first when there is none. */
  static open(dir: string): LocalCa {
    return inCaDir(dir, () => {
      const files = caFiles(dir);
      if (!existsSync(files.key) || !existsSync(files.cert)) writeCa(dir);
      const ca = new LocalCa(dir);
      if (!existsSync(files.bundle)) writeBundle(files.bundle, ca.cert);
      return ca;
    });
  }

  /** Replaces the CA in `dir` with a new one: agents must trust the new certificate. */
  static rotate(dir: string): LocalCa {
    return inCaDir(dir, () => {
      writeCa(dir);
      return new LocalCa(dir);
    });
  }

  /** The TLS context tapwire answers `host` with: a leaf for it, minted on first use. */
  contextFor(host: string): SecureContext {
    let context = this.#leaves.get(host);
    if (!context) {
      const leaf = mintLeaf([host], this.#leafKeys.publicKey, this.#signer);
      context = createSecureContext({ key: this.#leafKeys.privateKey, cert: `${leaf}${this.cert}` });
      this.#leaves.set(host, context);
    }
    return context;
  }
}
