# Example environment: every key, with its default and meaning. Copy to environments/<name>.tfvars and edit.
# Not deployed (config/load.ts skips "example" and "local"). The infra tests fill it in and synthesize it.
#
# Values written <like-this> are placeholders: replace each one with your own value. Until then validation fails and
# names every key still holding one, with what to put there, e.g.
#   environments/qa.tfvars: account_id still holds the example placeholder <account-id>: replace it with the 12-digit ...
# Optional blocks (an existing user pool, a guardrail, alarms) are commented out: uncomment one to use it, and fill in
# its placeholders.

# Environment name: must equal the file's base name; 2-20 of a-z, 0-9, "-". Names resources and the state key.
name = "<env>"

# Project name (default "llm-stream"): prefixes every resource name (<project>-<name>-...) and the state key.
project = "llm-stream"

# The only AWS account this environment may deploy into (provider allowed_account_ids). Required, 12 digits.
account_id = "<account-id>"

# Region of every resource. Required. Inference profiles in models must belong to its geography (see models).
region = "<region>"

# Optional: the deploy role the provider assumes in account_id (the bootstrap stack creates it; its name must not start
# with <project>-<name>-). Every role the stack creates carries the permissions boundary <project>-<name>-boundary,
# which the bootstrap stack creates: the deploy role may only create or grant to roles that carry it.
assume_role_arn = "arn:aws:iam::<account-id>:role/llm-stream-deploy"

# Extra tags on every resource (default {}), beside Project, Environment and ManagedBy.
tags = {
  Team       = "platform"
  CostCenter = "genai"
}

# Terraform state (default: local). S3: key = <key_prefix>/<name>/platform.tfstate, encrypted, S3-native locking.
state = {
  backend    = "s3"
  bucket     = "llm-stream-tfstate-<account-id>" # made once per account
  key_prefix = "llm-stream"                      # default "llm-stream"
  region     = "<region>"                        # the bucket's region
}
# state = { backend = "local" }

# Bedrock models. Required. Foundation model ids or cross-region inference profile ids, whose prefix is a geography that
# must match the region: us. only in us-* regions, eu. only in eu-*, apac. only in ap-* (jp. in ap-northeast-1/3, au. in
# ap-southeast-2/4), us-gov. only in us-gov-*, global. in any commercial region (not GovCloud). The example's us. profile
# fits a us-* region; elsewhere use your geography's profile or drop it. The worker may only call these (IAM is scoped
# to them); the default must be in the list.
models = {
  default_model_id  = "anthropic.claude-3-5-haiku-20241022-v1:0"
  allowed_model_ids = ["anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"]
}

# How sendQuery hands a request to the worker (default "queue"). "queue": send-query publishes it to the inbound topic and
# the work queue's event source mapping invokes the worker (buffering, redrive, FIFO per session). "async": send-query,
# after the same validation, limits and QUEUED record, invokes the worker with a Lambda Event invocation (one hop fewer,
# no SNS or SQS request per message); a burst beyond the worker's reserved concurrency waits in Lambda's own queue, and
# the message shows QUEUED in message(...) meanwhile.
ingress = "queue"

# With ingress = "async": maximum_event_age_seconds (60-21600, default 3600): how long an invocation may wait in Lambda's
# async queue (throttled, or between retries) before it goes to the on-failure DLQ <project>-<name>-worker-async-dlq
# (alarmed with the other DLQs). maximum_retry_attempts (0-2, default 2): retries of a failed invocation, about 1 and
# 2 minutes apart; a retry only ever meets the message's idempotency record, so it never generates a second time.
async_ingress = {
  maximum_event_age_seconds = 3600
  maximum_retry_attempts    = 2
}

# How clients may receive answers (default ["appsync"]); any non-empty subset of "appsync" (subscriptions, multi-client),
# "function_url" (a Lambda Function URL streaming NDJSON to the one caller) and "websocket" (API Gateway WebSocket).
# Only the listed ones are created. See the README's Transports section.
transports = ["appsync"]

# With "function_url": reserved_concurrency (1-1000, default 10) caps the streaming function (an unauthenticated flood is
# refused by its JWT check and never runs wider); max_answer_bytes (16384-6291456, default 1048576) ends an answer longer.
function_url = {
  reserved_concurrency = 10
  max_answer_bytes     = 1048576
}

# With "websocket": the stage's throttling, requests per second and burst across its routes (default 50 and 100).
websocket = {
  throttling_rate_limit  = 50
  throttling_burst_limit = 100
}

# true: the worker signs publishResponse itself (lowest latency). false (default): events go through the outbound queue.
direct_send = false

# With direct_send: events still failing after retries go to the outbound queue (default true).
fallback_to_queue = true

# Lets a client choose DIRECT or QUEUED per request (comparison runs; default false: direct_send decides).
client_delivery_choice = false

# Token batching: the first delta goes out at once; after it a chunk is sent when its window ends, when it reaches
# max_chars (1-8000, default 400), and at the end (the final event carries that last chunk).
# mode: "reading_pace" (default, chosen by npm run bench) or "fixed".
#   mode "fixed": every window is max_delay_ms (0-1000, default 250: about 20 tokens a chunk at 80 tokens/s;
#     0 = one message per delta).
#   mode "reading_pace": the first 2 s are windowed as fixed (never longer than max_delay_ms); after them, while the
#     delivered text is ahead of a reader at reading_tokens_per_second (1-100, default 15) from the first token, the
#     window grows with that lead, up to max_window_ms (0-5000, at least max_delay_ms, default 1000). Long answers
#     cost a fiftieth of one message per token, and the reader never waits (see BENCHMARKS.md).
batching = {
  mode                      = "reading_pace"
  max_delay_ms              = 250
  max_chars                 = 400
  reading_tokens_per_second = 15
  max_window_ms             = 1000
}

# Queues. fifo (default false): FIFO topics and queues, ordered per session. max_receive_count (1-20, default 3):
# receives before a work request moves to its DLQ. visibility_timeout_seconds (30-43200, default 360): at least
# 6 x lambda.timeout_seconds. relay_retry_seconds (30-3600, default 120): how long the relay retries an event through
# an AppSync outage before it moves it to the outbound DLQ; an outage shorter than this only delays the stream, and
# after a longer one clients still reach the answer through Query.message.
queue = {
  fifo                       = false
  max_receive_count          = 3
  visibility_timeout_seconds = 360
  relay_retry_seconds        = 120
}

# Lambdas. memory_mb 128-10240 (default 512); timeout_seconds 30-900 (default 60; the worker and relay need 30 s of headroom);
# reserved_concurrency -1 (default, unreserved) or 2-1000: each function's reservation, and the queue pollers' maximum
# concurrency (SQS event source scaling_config), so a burst waits in the queue instead of being throttled into the DLQ;
# log_retention_days: a CloudWatch retention period (default 30), also for AppSync logs.
lambda = {
  memory_mb            = 512
  timeout_seconds      = 60
  reserved_concurrency = -1
  log_retention_days   = 30
}

# Generation. max_prompt_chars 1-100000 (default 8000); max_tokens 1-64000 (default 1024); temperature 0-1
# (default 0.5); system_prompt at most 2000 characters, counted in UTF-8 bytes (it travels in each function's
# environment, which Lambda caps at 4 KB; the cap leaves room for about 14 model ids of 50 characters, 10 with the
# "websocket" transport).
generation = {
  max_prompt_chars = 8000
  max_tokens       = 1024
  temperature      = 0.5
  system_prompt    = "You are a helpful assistant. Answer in markdown."
}

# Per-user limits, checked by sendQuery before it writes or publishes anything; a refused request gets a GraphQL error
# with errorType LimitExceeded. max_concurrent_generations_per_user (1-1000, default 3): generations one user may have in
# flight; a slot frees when the message ends (completed, stopped, failed or timed out) and lapses lambda.timeout_seconds
# + 30 s after its worker started if that worker crashed. daily_output_tokens_per_user (1-1000000000, default 200000,
# at least generation.max_tokens): Bedrock-reported output tokens per UTC day; a request is admitted while the day's
# usage plus one full answer (max_tokens) per generation in flight stays under it, so the day ends at most one answer
# over, and a refusal says when the quota resets (midnight UTC).
limits = {
  max_concurrent_generations_per_user = 3
  daily_output_tokens_per_user        = 200000
}

# Optional: a Bedrock guardrail on every generation (ConverseStream guardrailConfig); the worker may call
# bedrock:ApplyGuardrail on this guardrail only. id: the guardrail's id in this account and region; version: "DRAFT" or
# a version number, as a string; stream_processing_mode "sync" (default: every chunk is screened before it is sent,
# adding the guardrail's latency to each) or "async" (chunks go out at once and are screened behind them; the user may
# see text the guardrail then blocks, and masking is not available). An intervention ends the message with stopReason
# "guardrail_intervened" and the guardrail's safe text. No guardrail when the block is absent (the default).
# guardrail = {
#   id                     = "<guardrail-id>"
#   version                = "1"
#   stream_processing_mode = "sync"
# }

# Tools the model may call while it answers (README "Agent events"); none when the block is absent. enabled: built-ins,
# "current_time" and "calculator" (no network, deterministic). lambdas: the team's own tools, each a Lambda function the
# worker invokes synchronously with {toolName, input, context: {userId, sessionId}} (10 s timeout); the worker may call
# lambda:InvokeFunction on exactly these ARNs, and the permissions boundary names them too (bootstrap again after a
# change). name: 1-64 of letters, digits, _ or -, unique across enabled and lambdas; description: what the model reads;
# input_schema_file: a JSON Schema object ("type": "object"), relative to this file's folder; notice: the line the user
# sees while it runs, naming input fields as {field} (only those are shown, cut short). max_rounds (1-20, default 5):
# rounds of tool calls per message; past it the message ends with stopReason "max_tool_rounds".
tools = {
  enabled = ["current_time", "calculator"]
  lambdas = [
    # {
    #   name              = "lookup_order"
    #   description       = "Looks up an order by its id and returns its status."
    #   input_schema_file = "tool-schemas/lookup_order.json"
    #   lambda_arn        = "arn:aws:lambda:<region>:<account-id>:function:lookup-order"
    #   notice            = "Looking up order {orderId}..."
    # },
  ]
  max_rounds = 5
}

# AppSync. xray (default true); field_log_level NONE|ERROR|INFO|DEBUG|ALL (default ERROR); introspection (default true;
# turn off in production).
appsync = {
  xray            = true
  field_log_level = "ERROR"
  introspection   = true
}

# Cognito. Optional existing_user_pool_id: use that pool instead of creating one (an app client is still created in it).
# Without it (the default) the stack creates its own pool.
# cognito = {
#   existing_user_pool_id = "<user-pool-id>"
# }

# Chat history in DynamoDB. enabled (default true); ttl_days 1-3650 (default 30): turns expire after this.
history = {
  enabled  = true
  ttl_days = 30
}

# Optional: AWS WAF in front of the API. rate_limit_per_5_minutes (10-2000000000): a web ACL is created with one IP
# rate-based rule that blocks an address sending more requests than this in any 5 minutes (mind offices behind one
# NAT address), associated with the API and logged to aws-waf-logs-<project>-<name> (lambda.log_retention_days,
# encrypted with the environment's key; the Authorization header is redacted). Or web_acl_arn: the team's own regional
# web ACL in this account and region, associated instead. Set one, not both. No WAF when the block is absent.
waf = {
  rate_limit_per_5_minutes = 2000
  # web_acl_arn = "arn:aws:wafv2:<region>:<account-id>:regional/webacl/<web-acl-name>/<web-acl-id>"
}

# Optional alarms (DLQ messages, Lambda errors and throttles, AppSync 5xx). Set email (a topic is created and the
# address subscribed) or sns_topic_arn (an existing topic), not both. No alarms when the block is absent (the default).
# alarms = {
#   email = "<alerts-email>"
#   # sns_topic_arn = "arn:aws:sns:<region>:<account-id>:<alerts-topic>"
# }
