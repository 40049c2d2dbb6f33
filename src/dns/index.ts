// SPDX-License-Identifier: Apache-2.0
// -d's modules, loaded only for -d (dns-packet and lru-cache cost start-up time).
export { DnsCache } from './cache.js';
export { dnsQueries } from './match.js';
