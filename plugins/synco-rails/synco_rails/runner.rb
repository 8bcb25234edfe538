# Run by synco-rails as `bin/rails runner <this code>`: prints the environment's database configurations and
# Active Storage settings as one JSON line after a marker, so whatever the application prints while booting
# cannot be mistaken for it. Written for Rails 5.2 to 8: each branch names the Rails versions it is for.
require "json"

configurations = ActiveRecord::Base.configurations
databases =
  if configurations.respond_to?(:configs_for)
    # Rails 6.0+: one DatabaseConfig per named database; replicas (and, on 7.0+, configurations hidden from
    # database tasks) are left out, as configs_for leaves them out by default.
    configurations.configs_for(env_name: Rails.env).map do |db|
      {
        name: db.respond_to?(:name) ? db.name : db.spec_name,                   # 6.1+ : 6.0
        config: db.respond_to?(:configuration_hash) ? db.configuration_hash : db.config, # 6.1+ : 6.0
      }
    end
  else
    # Rails 5.2: a plain hash per environment, one database.
    [{ name: "primary", config: configurations[Rails.env] }]
  end

service = begin
  Rails.application.config.active_storage.service
rescue StandardError
  nil
end

# A storage.yml Ruby cannot read leaves the databases readable: its files are then left out, with why.
storage_error = nil
# As Active Storage chooses (Rails 6.1+): the configurations set in the application, else
# config/storage/<env>.yml, else config/storage.yml.
storage_yml = Rails.root.join("config", "storage", "#{Rails.env}.yml")
storage_yml = Rails.root.join("config", "storage.yml") unless storage_yml.exist?
configured = begin
  Rails.application.config.active_storage.service_configurations
rescue StandardError
  nil
end
storage =
  begin
    if configured.is_a?(Hash)
      configured
    elsif !storage_yml.exist?
      nil
    elsif defined?(ActiveSupport::ConfigurationFile)
      ActiveSupport::ConfigurationFile.parse(storage_yml) # Rails 6.1+: ERB rendered, aliases allowed
    else
      YAML.load(ERB.new(storage_yml.read).result) # Rails 5.2 and 6.0
    end
  rescue StandardError, SyntaxError => e
    # The class only: a message could quote the rendered file, and with it a secret.
    storage_error = "#{storage_yml.relative_path_from(Rails.root)} could not be read by Rails (#{e.class})"
    nil
  end

puts
puts "SYNCO-RAILS-CONFIG:" + JSON.generate(
  env: Rails.env, root: Rails.root.to_s, databases: databases, storage_service: service, storage: storage,
  storage_error: storage_error
)
