# Staging: mirrors prod's delivery path (directSend + FIFO) in its own account.
name            = "staging"
account_id      = "222222222222"
region          = "us-east-1"
assume_role_arn = "arn:aws:iam::222222222222:role/llm-stream-deploy"
tags = {
  Team       = "platform"
  CostCenter = "genai-staging"
}

state = {
  backend    = "s3"
  bucket     = "llm-stream-tfstate-222222222222"
  key_prefix = "llm-stream"
  region     = "us-east-1"
}

models = {
  default_model_id  = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  allowed_model_ids = ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"]
}

direct_send       = true
fallback_to_queue = true

batching = {
  max_delay_ms = 250
  max_chars    = 400
}

queue = {
  fifo                       = true
  max_receive_count          = 3
  visibility_timeout_seconds = 540
  relay_retry_seconds        = 300
}

lambda = {
  memory_mb            = 512
  timeout_seconds      = 90
  reserved_concurrency = 20
  log_retention_days   = 30
}

limits = {
  max_concurrent_generations_per_user = 3
  daily_output_tokens_per_user        = 200000
}

# The same guardrail version and mode as prod, so staging measures what prod adds.
guardrail = {
  id                     = "stggrd4d5e6f7"
  version                = "3"
  stream_processing_mode = "sync"
}

waf = {
  rate_limit_per_5_minutes = 2000
}

appsync = {
  xray            = true
  field_log_level = "ERROR"
  introspection   = true
}

history = {
  enabled  = true
  ttl_days = 30
}

alarms = {
  email = "platform-alerts@example.com"
}
