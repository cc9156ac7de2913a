# cartlm serve in a container. Build stage: Debian 12 with the project's own scripts/setup (all
# build dependencies) and scripts/build (Release build into build/). Runtime stage: Debian 12 slim
# with only the shared libraries the binary links.
#
#   docker build -t cartlm .
#   docker run --rm -p 8080:8080 -v /path/to/model:/model:ro cartlm
#
# The model is not baked into the image: mount it (HF directory, .gguf file or GPTQ directory)
# at /model, or derive an image that COPYs it there. See docs/deploy.md.
FROM debian:12 AS build
WORKDIR /src
COPY . .
# scripts/setup installs chromium too (for the playground test); the build does not need it, so
# skip the tests here and keep the stage lean.
RUN sed -i '/^  chromium /d' scripts/setup \
 && bash scripts/setup \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCARTLM_BUILD_TESTS=OFF -DCARTLM_BUILD_BENCH=OFF >/dev/null \
 && cmake --build build --target cartlm -j "$(nproc)" \
 && strip build/cartlm

FROM debian:12-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libcpp-httplib0.11 libcurl4 libpcre2-8-0 libcairo2 libopenblas0 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 cartlm
COPY --from=build /src/build/cartlm /usr/local/bin/cartlm
USER cartlm
EXPOSE 8080
# curl is in the image for this check and for debugging; /health is 200 once the model is loaded.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
# SIGTERM (docker stop, Kubernetes) drains in-flight requests and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cartlm", "serve", "--host", "0.0.0.0", "--port", "8080"]
CMD ["--model", "/model"]
