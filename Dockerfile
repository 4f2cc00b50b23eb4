# tisbackup-c image: a build stage (compiler, -dev packages) and a slim
# runtime stage with the binary, its libraries, rsync and ssh.
#   docker build -t tisbackup .
#   docker build --build-arg BASE_IMAGE=my-bookworm -t tisbackup .
# The `redis` target is the queue of the compose stack, from the same base
# (Debian 12's redis-server 7.0). See docs/deployment.md.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends gcc libc6-dev pkg-config meson ninja-build \
      libsqlite3-dev zlib1g-dev libmicrohttpd-dev libjansson-dev libargon2-dev \
      libhiredis-dev libcurl4-gnutls-dev libxml2-dev libblkid-dev libcmocka-dev libbtrfsutil-dev \
      libssh-dev libzstd-dev libxxhash-dev nettle-dev libpq-dev libarchive-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN meson setup /build -Dbuildtype=release -Db_ndebug=if-release --prefix=/usr \
 && ninja -C /build tisbackup \
 && strip /build/tisbackup \
 && /build/tisbackup --version

FROM ${BASE_IMAGE} AS redis
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && install -d -o redis -g redis /data
USER redis
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data", "--appendonly", "yes"]

FROM ${BASE_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# libcurl3-gnutls and libxml2 are opened on first use (alerts, hypervisors), hence listed by name.
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends libsqlite3-0 zlib1g libmicrohttpd12 \
      libjansson4 libargon2-1 libhiredis0.14 libcurl3-gnutls libxml2 libnettle8 libblkid1 libbtrfsutil1 \
      libssh-4 libzstd1 libpq5 libarchive13 \
      rsync openssh-client tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
      /usr/share/doc/* /usr/share/man/* /usr/share/locale/* \
 && install -d -m 0750 /backup /etc/tis /root/.ssh \
 && groupadd --system --gid 990 tisbackup \
 && useradd --system --uid 990 --gid tisbackup --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin tisbackup
COPY --from=build /build/tisbackup /usr/bin/tisbackup
COPY dist/docker/tisbackup_gui.ini /usr/share/tisbackup/defaults/tisbackup_gui.ini
COPY samples/tisbackup-config.ini /usr/share/tisbackup/defaults/tisbackup-config.ini
COPY dist/docker/entrypoint.sh /usr/bin/tisbackup-entrypoint
RUN sed -i 's|^backup_base_dir = .*|backup_base_dir = /backup|' \
      /usr/share/tisbackup/defaults/tisbackup-config.ini
VOLUME ["/etc/tis", "/backup", "/root/.ssh"]
EXPOSE 8080
# tini is PID 1: it forwards SIGTERM to tisbackup (serve and worker stop
# cleanly: a worker hands back the runs that do not finish within
# [queue] stop_grace) and reaps orphans.
# The entrypoint starts as root to set the volumes' group (tisbackup), then
# serve runs as the unprivileged user tisbackup (setpriv); worker and the
# one-shot actions stay root: rsync must keep the owners, modes and devices
# of the files it backs up, and exports mount disks.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/bin/tisbackup-entrypoint"]
CMD ["serve"]
# The first check runs one interval after the start: 2 s keeps
# `docker compose up` to healthy short without a probe every second
# (Docker 20.10 has no --start-interval).
HEALTHCHECK --interval=2s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/usr/bin/tisbackup-entrypoint", "healthcheck"]
