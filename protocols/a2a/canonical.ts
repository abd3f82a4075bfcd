// The bytes an agent-card signature covers. @a2a-js/sdk (1.x) signs
// `canonicalizeAgentCard(card)`: the card projected onto the v1.0 AgentCard proto schema
// (unknown fields dropped, snake_case aliases read, scalars coerced, defaults dropped), then
// `signatures` removed, then empty strings, nulls, empty arrays and empty objects removed
// recursively, then JCS (RFC 8785: keys sorted, ECMAScript number and string forms). This
// module reproduces that projection from the schema below (AgentCard and the messages it
// holds, as of a2a.proto v1.0), so tapwire needs no SDK to verify signatures. Fields the
// schema lacks (a newer proto) are dropped, as by an SDK that does not know them either.

type FieldKind =
  | 'string' // coerced with String(); "" is dropped
  | 'flag' // bool with default false: false is dropped
  | 'optionalBool' // optional bool: false is kept
  | 'strings' // repeated string
  | 'struct' // google.protobuf.Struct: kept as it is
  | 'stringMap' // map<string, string>
  | { message: Schema }
  | { list: FieldKind }
  | { map: FieldKind }
  | { oneOf: [string, string, Schema][] }; // [JSON name, snake_case alias, message]: the first present wins

/** A message: its JSON field names, each with its kind and the snake_case alias proto-JSON also accepts. */
type Schema = Record<string, FieldKind | [FieldKind, string]>;

const scopes: FieldKind = 'stringMap';
const refreshUrl: [FieldKind, string] = ['string', 'refresh_url'];
const tokenUrl: [FieldKind, string] = ['string', 'token_url'];
const authorizationUrl: [FieldKind, string] = ['string', 'authorization_url'];
const clientCredentials: Schema = { tokenUrl, refreshUrl, scopes };
const oauthFlows: FieldKind = {
  oneOf: [
    ['authorizationCode', 'authorization_code', { authorizationUrl, tokenUrl, refreshUrl, scopes, pkceRequired: ['flag', 'pkce_required'] }],
    ['clientCredentials', 'client_credentials', clientCredentials],
    ['implicit', 'implicit', { authorizationUrl, refreshUrl, scopes }],
    ['password', 'password', clientCredentials],
    ['deviceCode', 'device_code', { deviceAuthorizationUrl: ['string', 'device_authorization_url'], tokenUrl, refreshUrl, scopes }],
  ],
};
const securityScheme: FieldKind = {
  oneOf: [
    ['apiKeySecurityScheme', 'api_key_security_scheme', { description: 'string', location: 'string', name: 'string' }],
    ['httpAuthSecurityScheme', 'http_auth_security_scheme', { description: 'string', scheme: 'string', bearerFormat: ['string', 'bearer_format'] }],
    ['oauth2SecurityScheme', 'oauth2_security_scheme', { description: 'string', flows: oauthFlows, oauth2MetadataUrl: ['string', 'oauth2_metadata_url'] }],
    ['openIdConnectSecurityScheme', 'open_id_connect_security_scheme', { description: 'string', openIdConnectUrl: ['string', 'open_id_connect_url'] }],
    ['mtlsSecurityScheme', 'mtls_security_scheme', { description: 'string' }],
  ],
};
const securityRequirements: [FieldKind, string] = [
  { list: { message: { schemes: { map: { message: { list: 'strings' } } } } } },
  'security_requirements',
];
const agentInterface: Schema = {
  url: 'string', protocolBinding: ['string', 'protocol_binding'], tenant: 'string', protocolVersion: ['string', 'protocol_version'],
};
const agentSkill: Schema = {
  id: 'string', name: 'string', description: 'string', tags: 'strings', examples: 'strings',
  inputModes: ['strings', 'input_modes'], outputModes: ['strings', 'output_modes'], securityRequirements,
};
const AGENT_CARD: Schema = {
  name: 'string',
  description: 'string',
  supportedInterfaces: [{ list: { message: agentInterface } }, 'supported_interfaces'],
  provider: { message: { url: 'string', organization: 'string' } },
  version: 'string',
  documentationUrl: ['string', 'documentation_url'],
  capabilities: {
    message: {
      streaming: 'optionalBool',
      pushNotifications: ['optionalBool', 'push_notifications'],
      extensions: { list: { message: { uri: 'string', description: 'string', required: 'flag', params: 'struct' } } },
      extendedAgentCard: ['optionalBool', 'extended_agent_card'],
    },
  },
  securitySchemes: [{ map: securityScheme }, 'security_schemes'],
  securityRequirements,
  defaultInputModes: ['strings', 'default_input_modes'],
  defaultOutputModes: ['strings', 'default_output_modes'],
  skills: { list: { message: agentSkill } },
  iconUrl: ['string', 'icon_url'],
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null;
}

function isSet(value: unknown): boolean {
  return value !== null && value !== undefined;
}

/** Whether a field of this kind takes the value (else proto-JSON tries the alias). */
function accepts(kind: FieldKind, value: unknown): boolean {
  if (kind === 'strings' || (typeof kind === 'object' && 'list' in kind)) return Array.isArray(value);
  if (kind === 'struct' || kind === 'stringMap' || (typeof kind === 'object' && 'map' in kind)) return isObject(value);
  return isSet(value);
}

function project(kind: FieldKind, value: unknown): unknown {
  if (kind === 'string') return String(value);
  if (kind === 'flag') return Boolean(value) || undefined;
  if (kind === 'optionalBool') return Boolean(value);
  if (kind === 'strings') return (value as unknown[]).map((v) => String(v));
  if (kind === 'struct') return value;
  if (kind === 'stringMap') return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, String(v)]));
  if ('message' in kind) return projectMessage(kind.message, value);
  if ('list' in kind) return (value as unknown[]).map((v) => project(kind.list, v));
  if ('map' in kind) return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, project(kind.map, v)]));
  const source = isObject(value) ? value : {};
  for (const [name, alias, schema] of kind.oneOf) {
    if (isSet(source[name])) return { [name]: projectMessage(schema, source[name]) };
    if (isSet(source[alias])) return { [name]: projectMessage(schema, source[alias]) };
  }
  return {};
}

function projectMessage(schema: Schema, value: unknown): Json {
  const source = isObject(value) ? value : {};
  const out: Json = {};
  for (const [name, spec] of Object.entries(schema)) {
    const [kind, alias] = Array.isArray(spec) ? spec : [spec, undefined];
    const raw = accepts(kind, source[name]) ? source[name] : alias !== undefined && accepts(kind, source[alias]) ? source[alias] : undefined;
    if (raw === undefined || !accepts(kind, raw)) continue;
    const projected = project(kind, raw);
    if (projected !== undefined) out[name] = projected;
  }
  return out;
}

/** Drops empty strings, nulls, empty arrays and empty objects, recursively (the SDK's cleanEmpty). */
function withoutEmpty(value: unknown): unknown {
  if (value === '' || value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    const items = value.map(withoutEmpty).filter((v) => v !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (isObject(value)) {
    const entries = Object.entries(value)
      .map(([k, v]) => [k, withoutEmpty(v)] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length > 0 ? Object.fromEntries(entries) : undefined;
  }
  return value;
}

/** RFC 8785 serialisation: sorted keys (UTF-16 order), ECMAScript forms for strings and numbers. */
export function jcs(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  const record = value as Json;
  return `{${Object.keys(record)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${jcs(record[key])}`)
    .join(',')}}`;
}

/** The payload @a2a-js/sdk 1.x signs for a card: proto-projected, signatures removed, empties dropped, JCS. */
export function canonicalCardV1(card: Json): string {
  const cleaned = withoutEmpty(projectMessage(AGENT_CARD, card));
  return cleaned === undefined ? '{}' : jcs(cleaned);
}

/** The v0.3 specification's payload: the card as sent without `signatures`, empties dropped, JCS. */
export function canonicalCardAsSent(card: Json): string {
  const rest = { ...card };
  delete rest.signatures;
  const cleaned = withoutEmpty(rest);
  return cleaned === undefined ? '{}' : jcs(cleaned);
}
