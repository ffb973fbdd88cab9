// Mapping of GraphQL errors (extensions.code / field / messageEn) to what the UI shows.
import type { Lang } from './i18n';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'INTERNAL'
  | 'NETWORK';

export interface GraphQLErrorLike {
  message?: string;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

const KNOWN: ErrorCode[] = ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'RATE_LIMITED', 'INTERNAL'];

const FALLBACK: Record<Lang, Record<ErrorCode, string>> = {
  ja: {
    UNAUTHENTICATED: 'ログインが必要です。もう一度ログインしてください。',
    FORBIDDEN: 'この操作を行う権限がありません。',
    NOT_FOUND: '見つかりませんでした。',
    BAD_USER_INPUT: '入力内容を確認してください。',
    CONFLICT: 'この操作は現在の状態では行えません。',
    RATE_LIMITED: '操作が多すぎます。しばらくしてからもう一度お試しください。',
    INTERNAL: 'サーバーでエラーが発生しました。時間をおいて再度お試しください。',
    NETWORK: 'サーバーに接続できません。ネットワークを確認してください。',
  },
  en: {
    UNAUTHENTICATED: 'Please sign in again.',
    FORBIDDEN: 'You are not allowed to do this.',
    NOT_FOUND: 'Not found.',
    BAD_USER_INPUT: 'Please check your input.',
    CONFLICT: 'This cannot be done in the current state.',
    RATE_LIMITED: 'Too many requests. Please try again shortly.',
    INTERNAL: 'The server had a problem. Please try again later.',
    NETWORK: 'Cannot reach the server. Please check your connection.',
  },
};

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly retryAfter?: number;
  constructor(code: ErrorCode, message: string, field?: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

/** The code of an error, INTERNAL when the server gave none we know. */
export function errorCode(e: GraphQLErrorLike): ErrorCode {
  const c = e.extensions?.code;
  return typeof c === 'string' && (KNOWN as string[]).includes(c) ? (c as ErrorCode) : 'INTERNAL';
}

/**
 * Turn the first GraphQL error into an ApiError in the UI language. The server
 * answers in the language of Accept-Language; `extensions.messageEn` is used when
 * the UI is English and the message came back Japanese anyway.
 */
export function toApiError(errors: ReadonlyArray<GraphQLErrorLike>, lang: Lang): ApiError {
  const first = errors[0] ?? {};
  const code = errorCode(first);
  const ext = first.extensions ?? {};
  const en = typeof ext.messageEn === 'string' ? ext.messageEn : undefined;
  let message = (lang === 'en' && en) || first.message || FALLBACK[lang][code];
  if (code === 'INTERNAL' && !first.extensions?.code) message = FALLBACK[lang].INTERNAL;
  const field = typeof ext.field === 'string' && ext.field ? normaliseField(ext.field) : undefined;
  const retryAfter = typeof ext.retryAfter === 'number' ? ext.retryAfter : undefined;
  return new ApiError(code, message, field, retryAfter);
}

/** `input.business.corporateNumber` → `corporateNumber`: forms name controls by their last segment. */
export function normaliseField(field: string): string {
  const parts = field.split('.');
  return parts[parts.length - 1];
}

export function networkError(lang: Lang): ApiError {
  return new ApiError('NETWORK', FALLBACK[lang].NETWORK);
}

export function fallbackMessage(code: ErrorCode, lang: Lang): string {
  return FALLBACK[lang][code];
}

/** Where a form shows an error: next to the named control, or in the banner. */
export function placeError(err: unknown, fields: readonly string[]): { field?: string; banner?: string; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError && err.field && fields.includes(err.field)) {
    return { field: err.field, message };
  }
  return { banner: message, message };
}
