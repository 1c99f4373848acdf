# Development: queued delivery, standard queues, verbose AppSync logs.
name            = "dev"
account_id      = "111111111111"
region          = "us-east-1"
assume_role_arn = "arn:aws:iam::111111111111:role/llm-stream-deploy"
tags = {
  Team       = "platform"
  CostCenter = "genai-dev"
}

state = {
  backend    = "s3"
  bucket     = "llm-stream-tfstate-111111111111"
  key_prefix = "llm-stream"
  region     = "us-east-1"
}

models = {
  default_model_id  = "anthropic.claude-3-5-haiku-20241022-v1:0"
  allowed_model_ids = ["anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-7-sonnet-20250219-v1:0"]
}

direct_send       = false
fallback_to_queue = true

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
  log_retention_days   = 14
}

limits = {
  max_concurrent_generations_per_user = 3
  daily_output_tokens_per_user        = 100000
}

# The team's guardrail in this account; async: no added latency while trying things out.
guardrail = {
  id                     = "devgrd0a1b2c3"
  version                = "DRAFT"
  stream_processing_mode = "async"
}

waf = {
  rate_limit_per_5_minutes = 1000
}

appsync = {
  xray            = true
  field_log_level = "ALL"
  introspection   = true
}

history = {
  enabled  = true
  ttl_days = 7
}
