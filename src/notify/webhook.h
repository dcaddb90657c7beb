// Webhooks (issue 20): event types, the Standard Webhooks signature, and queueing an event in the
// durable outbox inside the transaction of the change it describes.
//
// Signature (https://www.standardwebhooks.com): each request carries
//   webhook-id: msg_...            (the same on every attempt of one message)
//   webhook-timestamp: <seconds since the epoch, at the attempt>
//   webhook-signature: v1,<base64 HMAC-SHA256(secret, id + "." + timestamp + "." + body)>
// where secret is the base64 part of the endpoint's `whsec_<base64>` secret, decoded. During a
// rotation's overlap a second, space-separated `v1,...` signature is made with the previous secret.
// Thread-safe (pure functions).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"
#include "token/keyring.h"

namespace sandgate::notify {

// Every event type, in documentation order. token.revealed is opt-in: only endpoints naming it
// get it (the default list leaves it out).
const std::vector<std::string>& EventTypes();
const std::vector<std::string>& DefaultEventTypes();
bool KnownEvent(std::string_view type);
// True when the endpoint's comma-separated `events` names `type` (webhook.test goes everywhere).
bool Subscribed(const store::WebhookEndpoint& e, std::string_view type);

// 32 random bytes, the stored seed of a secret.
std::string NewSeed();
// The raw 32-byte signing secret of `seed` (derived from the key file's lookup key).
std::string SecretBytes(const token::Keyring& keys, std::string_view seed);
// "whsec_" + base64(SecretBytes): shown once, when an endpoint is created or its secret rotated.
std::string SecretText(const token::Keyring& keys, std::string_view seed);

// "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>".
std::string Sign(std::string_view secret, std::string_view msg_id, int64_t timestamp_s,
                 std::string_view body);
// The webhook-signature header of one attempt: the current secret's signature, and the previous
// one's while its overlap lasts.
std::string SignatureHeader(const token::Keyring& keys, const store::WebhookEndpoint& e,
                            std::string_view msg_id, int64_t timestamp_s, std::string_view body,
                            TimeMs now);
// "msg_" + 32 hex characters (random).
std::string NewMessageId();

// The JSON body of an event: {"type", "timestamp", "data"}; `data_json` is a JSON object text.
std::string Body(std::string_view type, TimeMs at, std::string_view data_json);

// Queues the event for every endpoint subscribed to it: the organization's own and the
// provider-wide ones (org nullopt: provider-wide only). Call inside the change's transaction.
// `dedupe_key`, when set, makes the event fire at most once per endpoint (scheduled events).
// Returns how many messages were queued.
Result<int> Enqueue(store::Tx& tx, std::optional<domain::OrgId> org, std::string_view type,
                    TimeMs now, std::string_view data_json, std::string_view dedupe_key = "");
// Queues one event for one endpoint (the "send test event" button).
Status EnqueueFor(store::Tx& tx, const store::WebhookEndpoint& e, std::string_view type, TimeMs now,
                  std::string_view data_json);

// The event an audited change fires, if any (TOKEN_ADD -> token.added, ...), with its data.
// Called by Services::Mutate with the change's audit record, the organization as it now is.
Status EnqueueForAudit(store::Tx& tx, const store::OrgRecord& org, const store::AuditRecord& rec,
                       TimeMs now);

// token.leaked (issue 20): the organization's token was reported found in public; `leak` is the
// report as kept (url, source, action REVOKED or NOTIFIED, the token's last four characters).
// Data: organization, actor, tokenLast4, url, source, action ("revoked" or "notified"), foundAt.
Status EnqueueLeak(store::Tx& tx, const store::OrgRecord& org, const std::string& actor,
                   const store::LeakRecord& leak, TimeMs now);

// Quota events (issue 20). The lines: quota.warning when the day's accepted calls reach
// QuotaWarningLine(allowance) (80%, rounded up, at least 1); quota.exhausted when they reach the
// allowance (the call that uses the last unit); quota.threshold_near when the day's over-quota
// refusals reach QuotaNearLine(threshold) (half the disable threshold, rounded up, at least 1).
int64_t QuotaWarningLine(int64_t allowance);
int64_t QuotaNearLine(int64_t disable_threshold);
// Call inside the transaction that counted one accepted call, with the day's count after it:
// queues quota.warning / quota.exhausted when this count is exactly a line (counts change one at a
// time in serialised transactions, so one transaction reaches it; a failed upload giving its unit
// back lets the next one reach it again, and the dedupe key "quota.warning:<org>:<day>" keeps it
// to once per organization, day and endpoint). Reads nothing unless a line is reached.
Status EnqueueQuotaUsed(store::Tx& tx, domain::OrgId org, int64_t day, int64_t used,
                        int64_t allowance, TimeMs now);
// The same for the day's over-quota refusals (quota.threshold_near).
Status EnqueueQuotaRefused(store::Tx& tx, domain::OrgId org, int64_t day, int64_t over_quota,
                           int64_t disable_threshold, TimeMs now);

}  // namespace sandgate::notify
