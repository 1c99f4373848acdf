# The local stack (`npm start`): same schema as the deployed environments; never synthesized for deploy.
name       = "local"
account_id = "000000000000"
region     = "us-east-1"

state = {
  backend = "local"
}

models = {
  default_model_id  = "anthropic.claude-3-5-haiku-20241022-v1:0"
  allowed_model_ids = ["anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"]
}

# Every transport, each with its local stand-in: AppSync for the web console and npm run chat, the Function URL
# (local/functionUrl/; npm run chat -- "hi" --transport function-url) and the API Gateway WebSocket (local/websocket/).
transports = ["appsync", "function_url", "websocket"]

direct_send       = false
fallback_to_queue = true

# Lets the CLI (--direct/--queued), the web comparison panel and the bench pick a path per request.
client_delivery_choice = true

batching = {
  max_delay_ms = 250
  max_chars    = 400
}

queue = {
  fifo                       = false
  max_receive_count          = 3
  visibility_timeout_seconds = 360
  relay_retry_seconds        = 120
}

lambda = {
  memory_mb            = 512
  timeout_seconds      = 60
  reserved_concurrency = -1
  log_retention_days   = 1
}

history = {
  enabled  = true
  ttl_days = 1
}

# Generous, so the bench's 100-stream sweep runs as one user; the end-to-end tests set tight limits with --config-overrides.
limits = {
  max_concurrent_generations_per_user = 200
  daily_output_tokens_per_user        = 10000000
}

# The stand-in accepts any guardrail; a prompt with [[guardrail]] makes it intervene (local/bedrock/README.md).
guardrail = {
  id                     = "localguardrail"
  version                = "DRAFT"
  stream_processing_mode = "async"
}

# The built-in tools; a prompt with [[tool:current_time]] or [[tool:calculator]] makes the stand-in call one (local/bedrock/README.md).
tools = {
  enabled    = ["current_time", "calculator"]
  max_rounds = 5
}
