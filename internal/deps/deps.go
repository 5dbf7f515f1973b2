// Package deps pins the modules the packages under construction use, so that
// go mod tidy keeps them. It is removed once they are imported for real.
package deps

import (
	_ "github.com/caarlos0/env/v11"
	_ "github.com/go-jose/go-jose/v4/jwt"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/redis/go-redis/v9"
	_ "go.uber.org/zap"
	_ "go.uber.org/zap/zaptest"
)
