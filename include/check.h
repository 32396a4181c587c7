/*
 * check.h: `chainfix check HOST[:PORT]`, a strict client's view of a
 * server's certificate chain.
 */
#ifndef CHAINFIX_CHECK_H
#define CHAINFIX_CHECK_H

/*
 * check_main(argc, argv):
 * argv[0] is "check".  Returns the exit code for monitoring systems:
 * 0 OK, 1 warnings, 2 critical, 3 could not connect (or usage error).
 */
int check_main(int argc, char **argv);

/*
 * The --json report (schema 1; fields are only ever added).  Strings the
 * peer controls are escaped: names as certinfo_name() writes them (RFC
 * 2253), other bytes outside printable ASCII as \xNN.  Times are ISO 8601 UTC ("2027-01-31T12:00:00Z").
 *
 *   schema        1
 *   version       chainfix version
 *   target        {host, port, servername (SNI sent, or null), checked_name,
 *                  address ("127.0.0.1:443", null if none answered),
 *                  roots (the --roots spec), roots_count, chain_file
 *                  (--chain FILE, else null; then host and port are null
 *                  unless HOST was given, and nothing is connected)}
 *   verdict       "OK" | "WARNING" | "CRITICAL" | "UNREACHABLE"
 *   exit_code     0 | 1 | 2 | 3
 *   error         why the server could not be reached, else null
 *   tls           {protocol, cipher, tls1_2, tls1_3 (true/false)} or null
 *                 (unreachable, or --chain)
 *   chain         null when unreachable, else
 *     count, certificate_message_size (TLS 1.2 encoding:
 *     7 + sum(3 + der_size)), initial_window (14600), verified, trusted,
 *     sent[]      {index, role ("leaf" | "intermediate" | "anchor" |
 *                  "extra" | "duplicate"), subject, issuer, key_type,
 *                  key_bits, key_curve, signature_algorithm, not_before,
 *                  not_after, days_left, sha256 (hex), der_size,
 *                  self_signed, duplicate_of (index or null)}
 *     path[]      what the strict client built, leaf first:
 *                 {subject, sent_index (or null), from_roots}
 *     missing_issuer  {subject, issuer_of, aia_url (or null)} or null
 *   reach         where the chain as sent verifies, null when unreachable:
 *                 {system (the --roots store), android-2.2, android-2.3,
 *                  android-3, android-4.0, android-4.4}: true, false, or
 *                  null for a store that could not be loaded
 *   problems[]    {code, severity ("critical" | "warning"), message}; codes:
 *                 critical: incomplete, untrusted_root, verify_error,
 *                   expired_cross_sign, intermediate_expired, root_expired,
 *                   leaf_expired, leaf_not_yet_valid, hostname_mismatch
 *                 warning: leaf_expiring, intermediate_expiring,
 *                   intermediate_expires_before_leaf, extra_certificates,
 *                   incorrect_order, contains_anchor, weak_signature,
 *                   weak_key, chain_too_large, no_tls12,
 *                   android_unreachable (with --roots system only),
 *                   activesync
 *   summary       {critical, warnings}
 *   fix           with --fix or --intermediates: {intermediates (or null),
 *                  public_intermediates, complete, trusted, already_sent,
 *                  count, error, bundle (PEM, leaf first)}, else null
 *   activesync    with --activesync: {status (or null), status_line,
 *                  protocol_versions, server_version, error}, else null
 */

#endif /* CHAINFIX_CHECK_H */
