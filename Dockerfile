# haid, hai-manager, hai-cli and the Python SDK on Debian 12. The build stage compiles with the
# same Debian packages as scripts/install-deps.sh; the runtime stage carries only the shared
# libraries. One image serves docker-compose (local runtime) and Kubernetes (deploy/k8s:
# haid runs its managers in its own pod and they drive task Pods through the API).
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev \
      protobuf-compiler libpqxx-dev libhiredis-dev libtomlplusplus-dev libabsl-dev \
      libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libcurl4-openssl-dev libssl-dev \
      libyaml-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
    && cmake --build /build -j"$(nproc)" --target haid hai-manager hai-cli

FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libpqxx-6.4 libhiredis0.14 libabsl20220623 \
      libcpp-httplib0.11 libtomlplusplus3 libssl3 libcurl4 libyaml-cpp0.7 python3 \
      ca-certificates \
      jupyter-notebook python3-ipykernel \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/haid /build/bin/hai-manager /build/bin/hai-cli /usr/local/bin/
# The in-task SDK (`import hai`), for images built FROM this one and for local-runtime ranks.
COPY python /opt/hai/python
ENV PYTHONPATH=/opt/hai/python
COPY sql /opt/hai/sql
# A fixed numeric uid: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN useradd --system --uid 999 --user-group --create-home --home-dir /var/lib/hai hai
USER 999:999
WORKDIR /var/lib/hai
EXPOSE 7611 7612
ENTRYPOINT ["/usr/local/bin/haid"]
CMD ["--config", "/etc/hai/haid.toml"]
